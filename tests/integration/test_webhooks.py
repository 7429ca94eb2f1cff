"""Outbound webhooks end to end on the real services: the API on PostgreSQL, RabbitMQ and
Redis, the sender as its own `aethex webhooks` process (killed and restarted), and a
receiver on loopback that checks every delivery with the `standardwebhooks` package."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.harness import (
    LiveServer,
    embedded_settings,
    free_port,
    fresh_production,
    production_env,
    running,
    stop_processes,
)
from tests.integration.client import Api, assert_problem
from tests.integration.webhook_receiver import Receiver

FAST_RETRIES = {"webhook_allow_private": True, "webhook_retry_base_s": 0.2,
                "webhook_retry_max_s": 0.5, "chat_rate_limit": "none"}


async def until(what: Callable[[], bool], timeout: float = 30.0, what_for: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what_for or what}")
        await asyncio.sleep(0.05)


class Sender:
    """`aethex webhooks` as a process of its own, on the test's namespace."""

    def __init__(self, namespace: str, tmp_path: Path) -> None:
        self.health_port = free_port()
        self.env = production_env(namespace, AETHEX_DATA_DIR=str(tmp_path / "sender"),
                                  AETHEX_HEALTH_PORT=str(self.health_port),
                                  AETHEX_WEBHOOK_ALLOW_PRIVATE="1",
                                  AETHEX_WEBHOOK_RETRY_BASE_S="0.2",
                                  AETHEX_WEBHOOK_RETRY_MAX_S="0.5",
                                  AETHEX_LOG_LEVEL="WARNING")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "webhooks"],
                                     env=self.env, cwd=os.getcwd())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_processes(self.proc)

    def metric(self, name: str, outcome: str) -> float:
        """A sample of the process's `/metrics` with label outcome=`outcome` (0 if none)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/metrics",
                                    timeout=10) as answer:
            text = answer.read().decode()
        for line in text.splitlines():
            if line.startswith(f'{name}{{outcome="{outcome}"}} '):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def threads_at_idle_priority(self) -> dict[bool, int]:
        """How many of the process's threads run at SCHED_IDLE (True) and how many not."""
        assert self.proc is not None
        counts = {True: 0, False: 0}
        for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
            with contextlib.suppress(OSError):  # a thread that has just ended
                counts[os.sched_getscheduler(int(tid)) == os.SCHED_IDLE] += 1
        return counts


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Sender]]:
    """One production server for the module (its own process runs no webhook sender) and
    the sender beside it."""
    tmp = tmp_path_factory.mktemp("webhooks")
    with fresh_production(tmp, workers="relay,projectors", **FAST_RETRIES) as settings, \
            running(settings) as live:
        sender = Sender(settings.namespace, tmp)
        sender.start()
        try:
            yield live, sender
        finally:
            sender.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
async def api(world: tuple[LiveServer, Sender]) -> AsyncIterator[Api]:
    client = Api(world[0].url, world[0].ws_url)
    yield client
    await client.close()


async def live_channel(api: Api) -> tuple[dict[str, Any], str, str]:
    owner = await api.register()
    channel = await api.channel(owner)
    stream = await api.go_live(owner, channel["id"])
    return owner, channel["id"], stream["id"]


async def subscribe(api: Api, owner: dict[str, Any], channel_id: str, url: str,
                    types: list[str]) -> dict[str, Any]:
    r = await api.http.post(f"/api/channels/{channel_id}/webhooks",
                            json={"url": url, "eventTypes": types}, headers=owner["headers"])
    assert r.status_code == 201, r.text
    return r.json()


async def send_all(api: Api, owner: dict[str, Any], stream_id: str, n: int,
                   prefix: str) -> list[int]:
    """Sends n messages (10 at a time); their positions."""
    positions: list[int] = []
    for start in range(0, n, 10):
        answers = await asyncio.gather(*(
            api.send(owner, stream_id, f"{prefix} {i}") for i in range(start, min(n, start + 10))))
        for a in answers:
            assert a.status_code == 201, a.text
            positions.append(a.json()["position"])
    return sorted(positions)


def chat_positions(receiver: Receiver, path: str) -> list[int]:
    """Positions of the verified chat deliveries at `path`, in the order they arrived."""
    return [r.payload["position"] for r in receiver.at(path)
            if r.error is None and r.payload["type"] == "chat.message.sent"]


def check_in_order_none_missing(receiver: Receiver, path: str, expected: list[int]) -> None:
    arrived = chat_positions(receiver, path)
    assert all(r.error is None for r in receiver.at(path)), \
        [r.error for r in receiver.at(path) if r.error]
    first_seen: list[int] = list(dict.fromkeys(arrived))
    assert first_seen == sorted(first_seen), "out of position order"
    assert set(expected) <= set(first_seen), sorted(set(expected) - set(first_seen))
    by_id: dict[str, bytes] = {}
    for r in receiver.at(path):  # a copy is the same delivery: same id, same body
        if r.id in by_id:
            assert by_id[r.id] == r.body
        by_id[r.id] = r.body
    ids = {json.loads(by_id[i])["position"]: i for i in by_id}
    assert len(ids) == len(by_id), "one event delivered under two webhook-ids"


async def test_deliveries_survive_a_receiver_outage_and_a_killed_sender(
        api: Api, receiver: Receiver, world: tuple[LiveServer, Sender]) -> None:
    _, sender = world
    owner, channel_id, stream_id = await live_channel(api)
    hook = await subscribe(api, owner, channel_id, receiver.url("/outage"),
                           ["chat.message.sent", "moderation.user_banned"])
    assert hook["secret"].startswith("whsec_") and hook["enabled"]
    receiver.secrets["/outage"] = hook["secret"]

    sent = await send_all(api, owner, stream_id, 10, "before")
    await until(lambda: set(sent) <= set(chat_positions(receiver, "/outage")),
                what_for="the first deliveries")

    receiver.stop()  # down: connections refused
    during = await send_all(api, owner, stream_id, 20, "during")
    r = None

    def retrying() -> bool:
        return r is not None and any(d["outcome"] == "retrying" for d in r.json()["items"])

    deadline = time.monotonic() + 30
    while not retrying():
        assert time.monotonic() < deadline, "no retry in the delivery log"
        await asyncio.sleep(0.2)
        r = await api.http.get(f"/api/channels/{channel_id}/webhooks/{hook['id']}/deliveries",
                               headers=owner["headers"])
        assert r.status_code == 200, r.text
    head = next(d for d in r.json()["items"] if d["outcome"] == "retrying")
    assert head["lastStatus"] is None and head["nextRetryAt"] and head["attempts"] >= 1
    receiver.start()  # back, on the same port
    await until(lambda: set(during) <= set(chat_positions(receiver, "/outage")),
                what_for="the deliveries held while the receiver was down")

    # The sender killed while it works through a burst, then started again.
    burst = asyncio.ensure_future(send_all(api, owner, stream_id, 150, "burst"))
    delivered = len(chat_positions(receiver, "/outage"))
    await until(lambda: len(chat_positions(receiver, "/outage")) > delivered + 5,
                what_for="the burst to start arriving")
    sender.kill()
    positions = await burst
    sender.start()
    await until(lambda: set(positions) <= set(chat_positions(receiver, "/outage")), 60,
                what_for="every event of the burst after the restart")
    check_in_order_none_missing(receiver, "/outage", [*sent, *during, *positions])

    # The delivery log: newest first, one row per delivery (once the sender has recorded
    # the last attempts and the read model has them).
    newest = sorted(positions, reverse=True)[:5]
    page: dict[str, Any] = {"items": []}
    deadline = time.monotonic() + 20
    while [d["position"] for d in page["items"]] != newest:
        assert time.monotonic() < deadline, page
        await asyncio.sleep(0.1)
        r = await api.http.get(f"/api/channels/{channel_id}/webhooks/{hook['id']}/deliveries",
                               params={"limit": 5}, headers=owner["headers"])
        page = r.json()
    assert [d["position"] for d in page["items"]] == sorted(positions, reverse=True)[:5]
    assert all(d["outcome"] == "delivered" and d["lastStatus"] == 200
               for d in page["items"]) and page["nextCursor"]


async def test_forged_and_replayed_deliveries_fail_the_receivers_check(
        api: Api, receiver: Receiver) -> None:
    owner, channel_id, stream_id = await live_channel(api)
    hook = await subscribe(api, owner, channel_id, receiver.url("/check"),
                           ["chat.message.sent"])
    receiver.secrets["/check"] = hook["secret"]
    await send_all(api, owner, stream_id, 1, "signed")
    await until(lambda: bool(receiver.at("/check")))
    real = receiver.at("/check")[0]
    library = Webhook(hook["secret"])
    assert library.verify(real.body, real.headers)["data"]["content"] == "signed 0"

    tampered = real.body.replace(b"signed 0", b"signed 1")
    restamped = {**real.headers, "webhook-timestamp": str(int(time.time()) + 1)}
    other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    forged = {**real.headers, "webhook-signature":
              Webhook(other).sign(real.id, _stamp(real), real.body)}
    for body, headers in ((tampered, real.headers), (real.body, restamped),
                          (real.body, forged)):
        with pytest.raises(WebhookVerificationError):
            library.verify(body, headers)

    # Rotation: deliveries from then on verify with the new secret only.
    r = await api.http.post(f"/api/channels/{channel_id}/webhooks/{hook['id']}/rotate-secret",
                            headers=owner["headers"])
    assert r.status_code == 200, r.text
    receiver.secrets["/check"] = r.json()["secret"]
    await send_all(api, owner, stream_id, 1, "rotated")
    await until(lambda: any(x.payload and x.payload["data"]["content"] == "rotated 0"
                            for x in receiver.at("/check")))
    with pytest.raises(WebhookVerificationError):
        library.verify(receiver.at("/check")[-1].body, receiver.at("/check")[-1].headers)


def _stamp(received: Any) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(received.headers["webhook-timestamp"]), UTC)


async def test_ping_redelivery_and_a_gone_receiver(
        api: Api, receiver: Receiver, world: tuple[LiveServer, Sender]) -> None:
    _, sender = world
    failed_before = sender.metric("aethex_webhook_attempts_total", "failed")
    owner, channel_id, stream_id = await live_channel(api)
    hook = await subscribe(api, owner, channel_id, receiver.url("/ping"),
                           ["chat.message.sent"])
    receiver.secrets["/ping"] = hook["secret"]
    base = f"/api/channels/{channel_id}/webhooks/{hook['id']}"
    r = await api.http.post(f"{base}/test", headers=owner["headers"])
    assert r.status_code == 202, r.text
    ping_id = r.json()["deliveryId"]
    await until(lambda: any(x.id == ping_id for x in receiver.at("/ping")))
    ping = next(x for x in receiver.at("/ping") if x.id == ping_id)
    assert ping.error is None and ping.payload["type"] == "webhook.ping"

    [position] = await send_all(api, owner, stream_id, 1, "again")
    await until(lambda: position in chat_positions(receiver, "/ping"))
    first = next(x for x in receiver.at("/ping") if x.payload["position"] == position)
    r = await api.http.get(f"{base}/deliveries", params={"after": 0},
                           headers=owner["headers"])
    deliveries: list[dict[str, Any]] = []

    async def logged() -> bool:
        nonlocal deliveries
        r = await api.http.get(f"{base}/deliveries", headers=owner["headers"])
        deliveries = r.json()["items"]
        return any(d["id"] == first.id for d in deliveries)

    while not await logged():
        await asyncio.sleep(0.1)
    r = await api.http.post(f"{base}/deliveries/{first.id}/redeliver", headers=owner["headers"])
    assert r.status_code == 202, r.text
    await until(lambda: sum(x.id == first.id for x in receiver.at("/ping")) == 2)
    copies = [x for x in receiver.at("/ping") if x.id == first.id]
    assert copies[0].body == copies[1].body and copies[1].error is None

    # 410 Gone: the subscription is disabled at once, and the owner sees why.
    receiver.status["/ping"] = 410
    await send_all(api, owner, stream_id, 1, "gone")
    hook_now: dict[str, Any] = {}

    async def disabled() -> bool:
        nonlocal hook_now
        hook_now = (await api.http.get(base, headers=owner["headers"])).json()
        return not hook_now["enabled"]

    deadline = time.monotonic() + 20
    while not await disabled():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert "410" in hook_now["disabledReason"]

    # What the sender's /metrics says of its attempts, and the CPU priority it runs at:
    # its event loop at SCHED_IDLE (AETHEX_WEBHOOK_CPU's default), its database threads not.
    assert sender.metric("aethex_webhook_attempts_total", "failed") == failed_before + 1
    assert sender.metric("aethex_webhook_attempts_total", "delivered") >= 3
    assert sender.metric("aethex_webhook_attempt_duration_seconds_count", "delivered") >= 3
    assert sender.proc is not None
    assert os.sched_getscheduler(sender.proc.pid) == os.SCHED_IDLE
    assert sender.threads_at_idle_priority()[False] >= 3


async def test_owner_routes_refuse_others_and_bad_input_stores_nothing(
        api: Api, receiver: Receiver) -> None:
    owner, channel_id, _ = await live_channel(api)
    other = await api.register()
    url = f"/api/channels/{channel_id}/webhooks"
    body = {"url": receiver.url("/x"), "eventTypes": ["stream.online"]}
    assert_problem(await api.http.post(url, json=body, headers=other["headers"]), 403)
    assert_problem(await api.http.get(url, headers=other["headers"]), 403)
    assert_problem(await api.http.post(url, json=body), 401)
    for bad, field in (({**body, "url": "not a url"}, "url"),
                       ({**body, "url": "ftp://example.com/x"}, "url"),
                       ({**body, "url": "https://example.com:99999/x"}, "url"),
                       ({**body, "eventTypes": ["stream.exploded"]}, "eventTypes"),
                       ({**body, "eventTypes": []}, "eventTypes"),
                       ({"eventTypes": ["stream.online"]}, "url")):
        assert_problem(await api.http.post(url, json=bad, headers=owner["headers"]), 422, field)
    for i in range(20):
        r = await api.http.post(url, json={**body, "url": receiver.url(f"/n{i}")},
                                headers=owner["headers"])
        assert r.status_code == 201, r.text
    problem = assert_problem(await api.http.post(url, json=body, headers=owner["headers"]),
                             422, "channelId")
    assert "20" in problem["detail"]
    r = await api.http.get(url, headers=owner["headers"])
    assert len(r.json()["items"]) == 20 and all("secret" not in h for h in r.json()["items"])


async def test_embedded_refuses_http_and_private_addresses_unless_allowed(
        tmp_path: Path, receiver: Receiver) -> None:
    """The default settings: https only, and no private, loopback or link-local address,
    neither written in the URL nor reached through a name that resolves to one."""
    with running(embedded_settings(tmp_path)) as live:
        api = Api(live.url, live.ws_url)
        try:
            owner, channel_id, stream_id = await live_channel(api)
            url = f"/api/channels/{channel_id}/webhooks"
            for bad in (receiver.url("/private"), "https://127.0.0.1/x", "https://[::1]/x",
                        f"https://localhost:{receiver.port}/private",
                        "https://169.254.169.254/latest", "https://10.1.2.3/x"):
                assert_problem(await api.http.post(url, json={
                    "url": bad, "eventTypes": ["chat.message.sent"]},
                    headers=owner["headers"]), 422, "url")
            # A name is checked once resolved, when delivering: refused, nothing sent.
            # (this machine's own name: /etc/hosts points it at a loopback address)
            hook = await subscribe(api, owner, channel_id,
                                   f"https://{socket.gethostname()}:{receiver.port}/private",
                                   ["chat.message.sent"])
            await send_all(api, owner, stream_id, 1, "private")
            items: list[dict[str, Any]] = []
            deadline = time.monotonic() + 20
            while not items:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
                r = await api.http.get(f"{url}/{hook['id']}/deliveries",
                                       headers=owner["headers"])
                items = r.json()["items"]
            assert items[0]["outcome"] == "refused" and items[0]["lastStatus"] is None
            assert "private" in items[0]["note"]
            assert receiver.at("/private") == []
        finally:
            await api.close()
