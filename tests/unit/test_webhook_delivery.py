"""Outbound webhooks' parts on their own: the retry schedule, the address policy (when a
URL is saved and when a delivery connects), signatures a Standard Webhooks library
accepts, the sender's CPU priority kept off its database threads and its CPU cap, and the
delivery log built from batches of attempts, the compact kind included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from domain.errors import Invalid
from domain.integrations import clean_url, new_webhook_secret
from domain.webhook_attempts import WebhookAttempts
from infra.eventstore.event_store import EventStore
from infra.eventstore.log_watcher import LogWatcher
from infra.readstore.database import SqliteDatabase
from infra.runtime import cpu
from infra.webhooks import signing
from infra.webhooks.delivery import GuardedResolver, Poster, Refused, public_address
from infra.webhooks.secret_box import SecretBox
from projections.base import migrate
from projections.webhook_deliveries import KEEP, WebhookDeliveries, deliveries
from projections.webhook_feed import delivery_id
from workers.webhook_sender import Policy, WebhookSender

from .support import World

# -- the retry schedule -----------------------------------------------------------------


def test_retries_double_from_the_base_with_jitter_up_to_the_cap() -> None:
    policy = Policy(retry_base_s=5.0, retry_max_s=60.0)
    for attempts, expected in [(0, 5.0), (1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0),
                               (5, 60.0), (12, 60.0)]:
        delays = [policy.backoff(attempts) for _ in range(200)]
        assert all(0.8 * expected <= d <= 1.2 * expected for d in delays), (attempts, delays)
        # jittered: receivers that failed together are not all retried together
        assert max(delays) - min(delays) > 0.1 * expected


# -- the address policy -------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1",
    "::ffff:10.0.0.1", "::"])
def test_inner_addresses_are_not_public(address: str) -> None:
    assert not public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111",
                                     "::ffff:93.184.216.34"])
def test_global_addresses_are_public(address: str) -> None:
    assert public_address(address)


@pytest.mark.parametrize(("url", "says"), [
    ("http://example.com/hook", "https"),
    ("ftp://example.com/hook", "https"),
    ("https:///hook", "host"),
    ("https://user:pw@example.com/hook", "credentials"),
    ("https://example.com:0/hook", "port 0"),
    ("https://example.com:99999/hook", "parsed"),
    ("https://127.0.0.1/hook", "private"),
    ("https://[::1]/hook", "private"),
    ("https://10.0.0.7/hook", "private"),
    ("https://localhost/hook", "private"),
    ("https://api.localhost/hook", "private"),
    ("https://example.com/hook#part", "fragment"),
    ("", "characters"),
])
def test_a_webhook_url_is_refused_naming_the_field(url: str, says: str) -> None:
    with pytest.raises(Invalid) as refused:
        clean_url(url)
    assert refused.value.field == "url" and says in str(refused.value)


def test_private_and_plain_http_urls_pass_only_where_allowed() -> None:
    assert clean_url(" https://hooks.example.com/x?a=1 ") == "https://hooks.example.com/x?a=1"
    for url in ("http://127.0.0.1:9000/hook", "https://localhost/hook"):
        with pytest.raises(Invalid):
            clean_url(url)
        assert clean_url(url, allow_insecure=True) == url


async def test_a_name_that_resolves_to_loopback_is_refused_when_delivering() -> None:
    with pytest.raises(Refused):
        await GuardedResolver(allow_private=False).resolve("localhost", 443)
    allowed = GuardedResolver(allow_private=True)
    try:
        found = await allowed.resolve("localhost", 443)
    finally:
        await allowed.close()
    assert found and all(not public_address(entry["host"]) for entry in found)


@pytest.mark.parametrize("url", ["http://localhost:9/hook", "http://127.0.0.1:9/hook",
                                 "http://[::1]:9/hook"])
async def test_the_poster_refuses_inner_addresses_before_connecting(url: str) -> None:
    poster = Poster(timeout_s=2.0, allow_private=False)
    try:
        outcome = await poster.post(url, b"{}", {})
    finally:
        await poster.close()
    assert outcome.status is None and not outcome.ok
    assert outcome.note.startswith("refused"), outcome.note


# -- signatures -----------------------------------------------------------------------------


def test_signatures_verify_with_the_standard_webhooks_library() -> None:
    secret = new_webhook_secret()
    body = json.dumps({"type": "chat.message.sent", "data": {"content": "héllo"}}).encode()
    stamp = int(time.time())
    headers = signing.headers(signing.secret_bytes(secret), "msg_1", stamp, body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"llo", b"llO"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(body, headers)


# -- CPU priority --------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="SCHED_IDLE is Linux's")
def test_a_lowered_thread_keeps_its_prestarted_database_threads_at_normal_priority() -> None:
    seen: dict[str, Any] = {}

    def sender_thread() -> None:  # stands for the sender's event loop thread
        pool = cpu.prestarted_pool(3, "db")
        seen["said"] = cpu.lower_this_thread("idle")
        seen["self"] = cpu.this_thread_policy()
        seen["pool"] = {pool.submit(cpu.this_thread_policy).result() for _ in range(20)}
        seen["pool_threads"] = len(pool._threads)
        pool.shutdown()
        later = threading.Thread(target=lambda: seen.update(later=cpu.this_thread_policy()))
        later.start()
        later.join()

    t = threading.Thread(target=sender_thread)
    t.start()
    t.join()
    assert seen["said"] == "SCHED_IDLE" and seen["self"] == "SCHED_IDLE"
    assert seen["pool"] == {"normal"} and seen["pool_threads"] == 3
    assert seen["later"] == "SCHED_IDLE"  # what the pool avoids: threads inherit
    assert cpu.this_thread_policy() == "normal"  # the policy is the thread's, not the process's
    assert os.sched_getscheduler(0) != os.SCHED_IDLE


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")
def test_low_and_normal_policies() -> None:
    seen: dict[str, str] = {}

    def run(policy: cpu.Policy) -> None:
        seen[policy] = cpu.lower_this_thread(policy) + " / " + cpu.this_thread_policy()

    for policy in ("low", "normal"):
        t = threading.Thread(target=run, args=(policy,))
        t.start()
        t.join()
    assert seen == {"low": "nice 10 / nice 10", "normal": "normal / normal"}


# -- the delivery log ------------------------------------------------------------------------

HOOK, OTHER, CHANNEL = "hook-a", "hook-b", "channel-1"


def project(world: World, tmp_path: Path) -> SqliteDatabase:
    db = SqliteDatabase(tmp_path / "read.sqlite")
    projection = WebhookDeliveries()
    migrate(db, [projection])
    with db.transaction() as tx:
        projection.apply(tx, [e for e in world.log() if e.type in projection.types])
    return db


def group(hook: str, positions: list[int], *, status: int = 200, note: str = "ok",
          event_type: str = "chat.message.sent") -> list[Any]:
    return [hook, CHANNEL, event_type, status, note, positions, [p % 7 for p in positions]]


def test_compact_successes_become_one_row_per_delivery(world: World, tmp_path: Path) -> None:
    world.store.save(WebhookAttempts(attempts=[
        [delivery_id(HOOK, 5), HOOK, CHANNEL, 5, "chat.message.sent", 1, None, 12,
         "retrying", "2026-12-06T00:00:10+00:00", "connection failed: refused"],
    ], delivered=[group(HOOK, [3, 4]), group(OTHER, [3, 4, 5], status=204, note="")]))
    world.store.save(WebhookAttempts(attempts=[
        [delivery_id(HOOK, 5), HOOK, CHANNEL, 5, "chat.message.sent", 2, 200, 9,
         "delivered", None, "ok"],
    ], delivered=[group(HOOK, [6], note="fine")]))
    db = project(world, tmp_path)

    page, cursor = deliveries(db, HOOK, before=None, limit=10)
    assert cursor is None
    assert [(d["id"], d["position"], d["attempts"], d["outcome"], d["lastStatus"], d["note"])
            for d in page] == [
        (delivery_id(HOOK, 6), 6, 1, "delivered", 200, "fine"),
        (delivery_id(HOOK, 5), 5, 2, "delivered", 200, "ok"),  # the retry, then its success
        (delivery_id(HOOK, 4), 4, 1, "delivered", 200, "ok"),
        (delivery_id(HOOK, 3), 3, 1, "delivered", 200, "ok")]
    assert [d["lastLatencyMs"] for d in page] == [6, 9, 4, 3]
    other, _ = deliveries(db, OTHER, before=None, limit=10)
    assert [(d["position"], d["lastStatus"], d["nextRetryAt"]) for d in other] == [
        (5, 204, None), (4, 204, None), (3, 204, None)]


def test_each_subscription_keeps_its_newest_deliveries(world: World, tmp_path: Path) -> None:
    world.store.save(WebhookAttempts(attempts=[], delivered=[
        group(HOOK, list(range(1, KEEP + 51))), group(OTHER, [1, 2])]))
    world.store.save(WebhookAttempts(attempts=[], delivered=[
        group(HOOK, [KEEP + 60, KEEP + 61])]))
    db = project(world, tmp_path)
    kept = [r["position"] for r in db.fetch_all(
        "SELECT position FROM webhook_deliveries WHERE webhook_id = ? ORDER BY position",
        (HOOK,))]
    assert kept == [*range(53, KEEP + 51), KEEP + 60, KEEP + 61]
    assert len(kept) == KEEP
    assert db.fetch_one("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = ?",
                        (OTHER,)) == {"n": 2}


def test_a_version_1_batch_still_builds_the_log(store: EventStore, world: World,
                                                tmp_path: Path) -> None:
    """Version 1 held every attempt as a row: it loads with no compact groups."""
    v2 = WebhookAttempts(attempts=[
        [delivery_id(HOOK, 8), HOOK, CHANNEL, 8, "chat.message.sent", 1, 200, 3,
         "delivered", None, "ok"]], delivered=[])
    [recorded] = v2.collect_events()
    stored = store.app.mapper.to_stored_event(recorded)
    state = json.loads(stored.state)
    assert state.pop("class_version") == 2
    state.pop("delivered")
    store.app.recorder.insert_events([StoredEvent(
        originator_id=stored.originator_id, originator_version=stored.originator_version,
        topic=stored.topic, state=json.dumps(state).encode())])
    [envelope] = world.log()
    assert envelope.data["delivered"] == [] and len(envelope.data["attempts"]) == 1
    db = project(world, tmp_path)
    page, _ = deliveries(db, HOOK, before=None, limit=10)
    assert [(d["position"], d["outcome"]) for d in page] == [(8, "delivered")]


# -- the sender's CPU cap ---------------------------------------------------------------------


def test_a_capped_sender_pauses_once_it_has_used_its_share(store: EventStore,
                                                           tmp_path: Path) -> None:
    wall, used = [100.0], [5.0]  # the clock and the process's CPU time, moved by the test

    def sender(share: float, name: str) -> WebhookSender:
        return WebhookSender(store, SqliteDatabase(tmp_path / name), LogWatcher(),
                             SecretBox("k" * 32), Poster(timeout_s=1.0, allow_private=True),
                             Policy(), cpu_share=share, clock=lambda: wall[0],
                             cpu_clock=lambda: used[0])

    capped, uncapped = sender(0.25, "a.sqlite"), sender(0.0, "b.sqlite")
    try:
        assert capped._cpu_allows()
        wall[0] += 1.0
        used[0] += 0.2  # less than its share: goes on
        assert capped._cpu_allows()
        wall[0] += 0.1
        used[0] += 0.1  # more than its share of that moment and what it had saved
        assert not capped._cpu_allows() and capped._paused
        assert uncapped._cpu_allows()
        assert capped._idle_wait() == pytest.approx(0.25)  # when the lanes may resume
        wall[0] += 0.2
        assert not capped._cpu_allows()
        wall[0] += 0.2
        assert capped._cpu_allows() and not capped._paused
        # What it saves while idle is bounded: a long pause buys no long burst.
        wall[0] += 60.0
        assert capped._cpu_allows()
        used[0] += 0.05
        assert not capped._cpu_allows()
    finally:
        capped.close()
        uncapped.close()


@pytest.mark.skipif(sys.platform != "linux", reason="autogroup is Linux's")
def test_a_lowered_process_gets_a_scheduling_group_of_its_own() -> None:
    """Where sessions are scheduling groups, the process leaves its parent's session (what
    it uses no longer counts against the API's group) and its group is niced."""
    code = ("from infra.runtime.cpu import own_scheduling_group as own; import os; "
            "print(own('idle')); print(open('/proc/self/autogroup').read().strip()); "
            "print(os.getsid(0) == os.getpid())")
    said, group, leader = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        stdin=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2]).stdout.splitlines()
    ours = Path("/proc/self/autogroup").read_text().strip()
    if Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1":
        assert said == "unchanged (no autogroup)"
        return
    assert said == "autogroup nice 19" and group.endswith("nice 19") and leader == "True"
    # The kernel prints nothing for a process in the default (root) group, as a CI runner
    # started outside any session can be; any group the child names is then its own.
    assert group.split()[0] != (ours.split() or [""])[0]  # not the caller's group
    assert Path("/proc/self/autogroup").read_text().strip() == ours  # left as it was


@pytest.mark.skipif(sys.platform != "linux", reason="autogroup is Linux's")
def test_a_sender_started_from_a_terminal_keeps_its_session() -> None:
    """An operator's `aethex webhooks` in a terminal still hears Ctrl-C, and the terminal's
    own group is not lowered."""
    code = ("from infra.runtime.cpu import own_scheduling_group as own; import os; "
            "print(own('idle')); print(os.getsid(0) == os.getpid())")
    master, slave = os.openpty()
    try:
        said, leader = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            stdin=slave, start_new_session=False,
            cwd=Path(__file__).resolve().parents[2]).stdout.splitlines()
    finally:
        os.close(master)
        os.close(slave)
    if Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1":
        assert said == "unchanged (no autogroup)"
        return
    assert said == "unchanged (a terminal's session)" and leader == "False"
