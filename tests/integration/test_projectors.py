"""Projectors: exactly-once effect on at-least-once delivery. Redelivered and duplicated
batches change nothing; a projector killed between batches loses and doubles nothing.

Doubling is checked on counters (a count of events, follower counts), which a second
application would change; rows keyed by their event's aggregate id could not show it."""

from __future__ import annotations

import asyncio
import bisect
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from commands.create_channel import CreateChannel, create_channel
from commands.go_live import GoLive, go_live
from commands.register_user import RegisterUser, register_user
from commands.send_message import Author, SendMessage, send_messages
from domain.follow import Follow
from entrypoints.bootstrap import Services
from infra.eventstore.envelope import EventEnvelope
from infra.readstore.database import Tx
from infra.settings import Settings
from projections import tracking
from projections.base import Projection, migrate
from tests.harness import (
    drop_namespace,
    embedded_settings,
    fresh_production,
    new_namespace,
    production_env,
    production_settings,
    require_services,
)
from workers.projector import ProjectorRunner

ROOT = Path(__file__).resolve().parents[2]
BINDINGS = [f"{t}.*" for t in ("ChatMessage.Sent",)] + ["_watermark"]


class Counter(Projection):
    """Counts events by adding one per event: NOT idempotent by itself, so any event
    applied twice shows in the count."""

    name = "counter"
    types = ("ChatMessage.Sent",)
    tables = ("event_counter",)
    ddl = ["CREATE TABLE IF NOT EXISTS event_counter (k TEXT PRIMARY KEY, n BIGINT NOT NULL)"]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        tx.execute("INSERT INTO event_counter (k, n) VALUES ('sent', ?) ON CONFLICT (k) "
                   "DO UPDATE SET n = event_counter.n + excluded.n", (len(events),))


def counted(services: Services) -> int:
    row = services.db.fetch_one("SELECT n FROM event_counter WHERE k = 'sent'")
    return int(row["n"]) if row else 0


def counted_and_tracked(services: Services) -> tuple[int, int]:
    """The count and the counter's tracking position, read in one statement: one snapshot,
    even while a cancelled projector's last commit is still finishing in its thread."""
    row = services.db.fetch_one(
        "SELECT (SELECT n FROM event_counter WHERE k = 'sent') AS n, "
        "(SELECT position FROM projection_tracking WHERE name = 'counter') AS p")
    assert row is not None
    return int(row["n"] or 0), int(row["p"] or 0)


def sent_positions(services: Services) -> list[int]:
    """Log positions of every ChatMessage.Sent event, in order."""
    events, _ = services.store.read(0, 1_000_000, types=Counter.types)
    return [e.position for e in events]


@pytest.fixture(params=["embedded", "production"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "embedded":
        yield embedded_settings(tmp_path, projector_batch_size=50, relay_batch_size=40)
        return
    with fresh_production(tmp_path, projector_batch_size=50, relay_batch_size=40) as s:
        yield s


def seed_messages(services: Services, count: int, *, batch: int = 250) -> UUID:
    """A live stream with `count` chat messages, written through the command handlers."""
    owner = register_user(RegisterUser(email="o@example.com", username="seeder",
                                       password="correct horse"), services.store, services.hasher)
    channel = create_channel(CreateChannel(owner_id=owner.user.id, slug="seeded", name="Seeded"),
                             services.store).channel
    stream = go_live(GoLive(actor_id=owner.user.id, channel_id=channel.id), services.store).stream
    author = Author(id=owner.user.id, username="seeder", display_name="Seeder")
    for start in range(0, count, batch):
        cmds = [SendMessage(stream_id=stream.id, author=author, content=f"m{i}")
                for i in range(start, min(count, start + batch))]
        assert all(not isinstance(r, Exception) for r in send_messages(cmds, services.store))
    return stream.id


async def test_redelivered_and_duplicated_batches_change_nothing(settings: Settings) -> None:
    services = Services(settings)
    try:
        migrate(services.db, [Counter()])
        await services.bus.connect()
        runner = ProjectorRunner(Counter(), services.store, services.db, services.bus, prefetch=10)
        consumer = await services.bus.consumer(runner.queue, BINDINGS, 10)
        seed_messages(services, 300, batch=60)
        await services.start(workers=["relay"])  # publishes the log to the bus

        deliveries = []
        deadline = time.monotonic() + 20
        while len(deliveries) < 6 and time.monotonic() < deadline:
            deliveries += await consumer.get_batch(6 - len(deliveries), timeout=0.5)
        assert deliveries, "the relay published nothing"
        await runner.handle(deliveries)
        first = counted(services)
        assert first > 0
        # Crash before the acknowledgement: the broker hands the same batches out again.
        await consumer.close()
        consumer = await services.bus.consumer(runner.queue, BINDINGS, 10)
        again = []
        deadline = time.monotonic() + 10
        while len(again) < len(deliveries) and time.monotonic() < deadline:
            again += await consumer.get_batch(10, timeout=0.5)
        assert [d.batch for d in again[: len(deliveries)]] == [d.batch for d in deliveries]
        await runner.handle(again[: len(deliveries)])
        assert counted(services) == first  # the redelivered batches added nothing
        if len(again) > len(deliveries):
            await runner.handle(again[len(deliveries):])
        await consumer.ack(again)
        # A duplicate publish of an already applied batch (e.g. a relay retry).
        duplicated = [d.batch for d in deliveries if d.batch.events]
        assert duplicated
        await services.bus.publish([(b.events[0].routing_key, b) for b in duplicated])
        # Drain the rest of the log through the queue, and on until the duplicates came
        # back: they queue behind the rest of the log, so reaching the head is not enough.
        head = services.store.head()
        awaited = list(duplicated)
        deadline = time.monotonic() + 20
        while (runner.position < head or awaited) and time.monotonic() < deadline:
            batch = await consumer.get_batch(50, timeout=0.5)
            if batch:
                for d in batch:
                    if d.batch in awaited:
                        awaited.remove(d.batch)
                await runner.handle(batch)
                await consumer.ack(batch)
        await consumer.close()
        assert not awaited, f"{len(awaited)} of {len(duplicated)} duplicates never came back"
        assert runner.position == head
        assert counted(services) == 300
    finally:
        await services.stop()
        services.close()


async def test_projector_killed_between_batches_resumes_exactly(settings: Settings) -> None:
    services = Services(settings)
    try:
        migrate(services.db, [Counter()])
        stream_id = seed_messages(services, 1500, batch=100)
        await services.start(workers=["relay"])
        total = 1500

        positions = sent_positions(services)
        assert len(positions) == total
        head = services.store.head()
        for _attempt in range(3):  # kill it mid-way a few times
            runner = ProjectorRunner(Counter(), services.store, services.db, services.bus,
                                     batch_size=50, prefetch=5)
            stopping = asyncio.Event()
            task = asyncio.create_task(runner.run(stopping))
            deadline = time.monotonic() + 20
            start = tracking.position(services.db, "counter")
            while tracking.position(services.db, "counter") <= start + 100:
                assert time.monotonic() < deadline, "projector made no progress"
                await asyncio.sleep(0.005)
            task.cancel()  # no clean stop: whatever was not acknowledged is redelivered
            await asyncio.gather(task, return_exceptions=True)
            # Exactly the events up to the stored position were applied, each once.
            n, tracked = counted_and_tracked(services)
            assert tracked < head, "killed too late to prove anything; make the log longer"
            assert n == bisect.bisect_right(positions, tracked), (n, tracked)

        runner = ProjectorRunner(Counter(), services.store, services.db, services.bus,
                                 batch_size=50, prefetch=5)
        stopping = asyncio.Event()
        task = asyncio.create_task(runner.run(stopping))
        deadline = time.monotonic() + 30
        while tracking.position(services.db, "counter") < head:
            assert time.monotonic() < deadline, "projector did not catch up"
            await asyncio.sleep(0.02)
        stopping.set()
        await task
        assert counted(services) == total
        assert stream_id
    finally:
        await services.stop()
        services.close()


async def test_a_stale_runner_applies_only_what_lies_past_the_stored_position(
        settings: Settings) -> None:
    """Two runners of one projection (processes handing the queue over mid-batch): one
    whose in-memory position lags the stored one neither applies an event again nor moves
    the stored position back."""
    services = Services(settings)
    try:
        migrate(services.db, [Counter()])
        seed_messages(services, 30, batch=30)
        events, head = services.store.read(0, 1000, types=Counter.types,
                                           stop=services.store.head())
        assert len(events) == 30
        ahead = ProjectorRunner(Counter(), services.store, services.db, services.bus)
        ahead.commit(events[:20], events[19].position)
        assert counted_and_tracked(services) == (20, events[19].position)

        stale = ProjectorRunner(Counter(), services.store, services.db, services.bus)
        stale.commit(events[:10], events[9].position)  # all of it applied already
        assert counted_and_tracked(services) == (20, events[19].position)
        stale.commit(events, head)  # overlaps: only the last ten are new
        assert counted_and_tracked(services) == (30, head)
    finally:
        services.close()


def _tracking(services: Services, name: str) -> int:
    return tracking.position(services.db, name)


def seed_follows(services: Services, target: UUID, count: int) -> None:
    """`count` new followers of the user `target` (their accounts need not exist)."""
    services.store.save(*(Follow.start(uuid4(), "user", target) for _ in range(count)))


def follow_counts(services: Services, target: UUID) -> tuple[int, int]:
    """The target's follower count, and the following counts of everyone, summed."""
    row = services.db.fetch_one(
        "SELECT (SELECT follower_count FROM user_follow_counts WHERE user_id = ?) AS f, "
        "(SELECT SUM(following_count) FROM user_follow_counts) AS g", (str(target),))
    assert row is not None
    return int(row["f"] or 0), int(row["g"] or 0)


async def test_projector_process_killed_with_sigkill_loses_and_doubles_nothing(
        tmp_path: Path) -> None:
    """A real `aethex project` process on PostgreSQL + RabbitMQ, killed with SIGKILL
    while it works, then restarted. Chat rows show losses; follower counts, which a batch
    applied twice would inflate, show doubling."""
    require_services()
    namespace = new_namespace()
    settings = production_settings(tmp_path, namespace)
    services = Services(settings)
    env = production_env(namespace, AETHEX_JWT_SECRET="x" * 32,
                         AETHEX_PROJECTOR_BATCH_SIZE="100",
                         AETHEX_DATA_DIR=str(tmp_path / "proc-var"), AETHEX_LOG_LEVEL="WARNING")
    cmd = [sys.executable, "-m", "entrypoints.cli", "project", "chat_history", "follows"]
    proc = None
    target = uuid4()
    try:
        stream_id = seed_messages(services, 6000, batch=500)
        for _ in range(12):  # spread over the log like the messages
            seed_follows(services, target, 250)
        await services.start(workers=["relay"])
        head = services.store.head()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while _tracking(services, "chat_history") == 0 or _tracking(services, "follows") == 0:
            assert time.monotonic() < deadline and proc.poll() is None, "no progress"
            await asyncio.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        for name in ("chat_history", "follows"):
            assert _tracking(services, name) < head, \
                f"{name} was killed too late to prove anything; make the log longer"

        # More arrive while it is down; they must not be lost either.
        author = Author(id=UUID(int=1), username="late", display_name="Late")
        send_messages([SendMessage(stream_id=stream_id, author=author, content=f"late {i}")
                       for i in range(50)], services.store)
        seed_follows(services, target, 50)
        head = services.store.head()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while _tracking(services, "chat_history") < head or _tracking(services, "follows") < head:
            assert time.monotonic() < deadline and proc.poll() is None, "did not catch up"
            await asyncio.sleep(0.05)
        row = services.db.fetch_one(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM chat_messages WHERE stream_id = ?",
            (str(stream_id),))
        assert row == {"n": 6050, "d": 6050}
        assert follow_counts(services, target) == (3050, 3050)
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        await services.stop()
        services.close()
        drop_namespace(namespace)
