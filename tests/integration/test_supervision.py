"""Supervision on the real services: a projector whose consumer broke underneath it (its
queue deleted, its channel closed by the broker, its connection closed by the broker) or
whose database sessions were ended recovers by itself and reaches the head within 10 s,
with its error recorded and then cleared; a stalled projector shows in `/health/ready`,
`aethex projections list` and a worker process's liveness endpoint.

Nothing here restarts the machine's shared services: the broker closes only this test's
connection, and only this namespace's PostgreSQL sessions are ended (by application name).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import aio_pika
import httpx
import psycopg
import pytest

from commands.send_message import Author, SendMessage, send_messages
from entrypoints.bootstrap import Services
from infra.messaging.bus import WATERMARK_KEY
from infra.messaging.rabbitmq import RabbitBus
from infra.readstore.database import PostgresDatabase
from infra.runtime.supervisor import Supervisor
from infra.settings import Settings, postgres_params
from projections import tracking
from projections.base import migrate
from tests.harness import (
    DATABASE_URL,
    RABBITMQ_URL,
    REQUIRED,
    drop_namespace,
    free_port,
    fresh_production,
    new_namespace,
    production_env,
    production_settings,
    require_services,
    serving,
    stop_processes,
)
from tests.integration.test_projectors import Counter, counted, seed_messages
from workers.projector import ProjectorRunner
from workers.rebuild import lock_key

ROOT = Path(__file__).resolve().parents[2]
RECOVERY_S = 10.0  # the goal: every read model back at the head this soon after a fault


@pytest.fixture
def prod(tmp_path: Path) -> Iterator[Settings]:
    with fresh_production(tmp_path, projector_batch_size=50, relay_batch_size=40) as s:
        yield s


def more_messages(services: Services, stream_id: UUID, n: int, tag: str) -> None:
    author = Author(id=UUID(int=7), username="later", display_name="Later")
    results = send_messages([SendMessage(stream_id=stream_id, author=author,
                                         content=f"{tag} {i}") for i in range(n)],
                            services.store)
    assert not [r for r in results if isinstance(r, Exception)]


async def until(condition: Callable[[], Any], timeout: float, what: str) -> float:
    """Waits for `condition()` (sync); returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except psycopg.OperationalError:  # the test's own pooled session was ended too
            pass
        assert time.monotonic() - started < timeout, what
        await asyncio.sleep(0.02)


def counter_error(db: Any) -> str | None:
    row = db.fetch_one("SELECT last_error FROM projection_tracking WHERE name = 'counter'")
    return row["last_error"] if row else None


# -- the consumer breaks underneath ---------------------------------------------------------


async def delete_queue(bus: RabbitBus, namespace: str) -> None:
    """Another client deletes the projector's queue: the broker cancels its consumer."""
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(f"{namespace}.projector.counter")


async def close_channel_by_broker(bus: RabbitBus, namespace: str) -> None:
    """An acknowledgement of a delivery tag the channel never gave out (what a stale tag
    from a restored channel was): the broker closes the channel (PRECONDITION_FAILED)."""
    consumer = next(c for c in bus._consumers if c.queue.name.endswith(".projector.counter"))
    underlay = await consumer.channel.get_underlay_channel()
    await underlay.basic_ack(delivery_tag=10**9)


def _rabbitmqctl(*args: str) -> str:
    out = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                         timeout=60, check=True)
    return out.stdout


async def close_connection_by_broker(bus: RabbitBus, namespace: str) -> None:
    """The broker closes the consumers' connection (as when it shuts down), this
    namespace's only: found by the connection name it announces."""
    name = f"aethex.{namespace}.consumers"
    listing = await asyncio.to_thread(_rabbitmqctl, "list_connections", "pid",
                                      "client_properties")
    pids = [line.split("\t", 1)[0] for line in listing.splitlines() if name in line]
    assert len(pids) == 1, listing
    await asyncio.to_thread(_rabbitmqctl, "close_connection", pids[0], "test: broken underneath")


BREAKS = {"queue_deleted": delete_queue, "channel_closed_by_broker": close_channel_by_broker,
          "connection_closed_by_broker": close_connection_by_broker}


@pytest.mark.parametrize("how", sorted(BREAKS))
async def test_a_projector_whose_consumer_broke_rebuilds_it_and_reaches_the_head(
        prod: Settings, how: str) -> None:
    if how == "connection_closed_by_broker" and shutil.which("rabbitmqctl") is None:
        message = "needs rabbitmqctl on this machine"
        if REQUIRED:  # CI has the broker's tools: their absence is a failure there
            pytest.fail(message)
        pytest.skip(message)
    services = Services(prod)
    services.supervisor.backoff_initial_s = 0.05
    try:
        migrate(services.db, [Counter()])
        stream_id = seed_messages(services, 200, batch=100)
        await services.start(workers=["relay"])
        runner = ProjectorRunner(Counter(), services.store, services.db, services.bus,
                                 batch_size=50, prefetch=10)
        services.spawn("projector:counter", runner.run)
        task = services.supervisor.task("projector:counter")
        await until(lambda: tracking.position(services.db, "counter") == services.store.head(),
                    20, "the projector did not catch up at first")
        assert isinstance(services.bus, RabbitBus)

        await BREAKS[how](services.bus, prod.namespace)
        more_messages(services, stream_id, 100, "after")
        head = services.store.head()
        took = await until(lambda: tracking.position(services.db, "counter") == head,
                           RECOVERY_S, f"the projector did not reach the head within "
                           f"{RECOVERY_S} s after its consumer broke ({how})")
        assert task.failures >= 1, "the broken consumer went unnoticed"
        assert task.last_error is not None
        # Seen on the idle wait (ConsumerBroken) or by the acknowledgement that raced it.
        assert any(e in task.last_error for e in ("ConsumerBroken", "ChannelInvalidState")), \
            task.last_error
        assert counted(services) == 300  # nothing lost, nothing applied twice
        # Later messages go through the new consumer too (not only the catch-up).
        more_messages(services, stream_id, 10, "later")
        head = services.store.head()
        await until(lambda: tracking.position(services.db, "counter") == head, RECOVERY_S,
                    "the rebuilt consumer does not deliver")
        assert counted(services) == 310
        assert runner.last_error is None and counter_error(services.db) is None
        print(f"{how}: back at the head {took:.2f} s after the break")
    finally:
        await services.stop()
        services.close()


async def test_a_projector_whose_consumer_went_silent_subscribes_again(prod: Settings) -> None:
    """A consumer that is lost without a word (here its queue is unbound from the exchange
    behind its back: the channel stays open, nothing fails, nothing more arrives) is
    noticed by the projector itself: it hears nothing while the log moves on, subscribes
    again (binding its queue anew) and catches up from the store, with no failure."""
    services = Services(prod)
    try:
        migrate(services.db, [Counter()])
        stream_id = seed_messages(services, 50, batch=50)
        await services.start(workers=["relay"])
        runner = ProjectorRunner(Counter(), services.store, services.db, services.bus,
                                 batch_size=50, prefetch=10)
        runner.STARVED_S = 1.0
        services.spawn("projector:counter", runner.run)
        task = services.supervisor.task("projector:counter")
        await until(lambda: tracking.position(services.db, "counter") == services.store.head(),
                    20, "the projector did not catch up at first")

        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:  # unbind every routing key: silence, not an error
            channel = await connection.channel()
            queue = await channel.declare_queue(f"{prod.namespace}.projector.counter",
                                                passive=True)
            for key in [*Counter().bindings, WATERMARK_KEY]:
                await queue.unbind(f"{prod.namespace}.events", routing_key=key)
        more_messages(services, stream_id, 30, "unheard")
        head = services.store.head()
        await until(lambda: tracking.position(services.db, "counter") == head, RECOVERY_S,
                    "a silent consumer was never noticed")
        assert counted(services) == 80  # nothing lost, nothing applied twice
        more_messages(services, stream_id, 10, "heard")  # the new subscription delivers
        head = services.store.head()
        await until(lambda: tracking.position(services.db, "counter") == head, RECOVERY_S,
                    "the new subscription does not deliver")
        assert counted(services) == 90
        assert task.failures == 0 and runner.last_error is None  # silence is not an error
    finally:
        await services.stop()
        services.close()


# -- the database sessions are ended -------------------------------------------------------


def end_sessions(application_name: str) -> int:
    """Ends every PostgreSQL session with this application name (this namespace's)."""
    with psycopg.connect(**postgres_params(DATABASE_URL), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,)).fetchall()
    return len(rows)


async def test_a_projector_whose_database_sessions_were_ended_recovers_and_clears_its_error(
        prod: Settings) -> None:
    services = Services(prod)
    # Its own pool, as in a process of its own: the relay's recovery does not clean it.
    db = PostgresDatabase(DATABASE_URL, prod.namespace)
    # A first restart late enough for the recorded error to be seen before it clears.
    supervisor = Supervisor(backoff_initial_s=1.5, backoff_max_s=1.5)
    stopping = supervisor.stopping
    try:
        migrate(db, [Counter()])
        stream_id = seed_messages(services, 200, batch=100)
        await services.start(workers=["relay"])
        runner = ProjectorRunner(Counter(), services.store, db, services.bus,
                                 batch_size=50, prefetch=10)
        task = supervisor.spawn("projector:counter", lambda: runner.run(stopping))
        await until(lambda: tracking.position(services.db, "counter") == services.store.head(),
                    20, "the projector did not catch up at first")
        with db.transaction(), db.transaction():  # several pooled sessions, all ended
            pass

        ended = end_sessions(f"aethex.{prod.namespace}.read")
        assert ended >= 2, ended
        more_messages(services, stream_id, 100, "after")
        head = services.store.head()
        await until(lambda: counter_error(services.db) is not None, RECOVERY_S,
                    "the failure was not recorded as last_error")
        error = counter_error(services.db)
        assert error is not None and ("OperationalError" in error or "AdminShutdown" in error)
        took = await until(lambda: tracking.position(services.db, "counter") == head,
                           RECOVERY_S, "the projector did not reach the head after its "
                           "database sessions were ended")
        await until(lambda: counter_error(services.db) is None and runner.last_error is None,
                    5, "last_error not cleared")
        assert task.failures >= 1 and task.state == "running"
        assert counted(services) == 300
        print(f"back at the head {took:.2f} s after the sessions were ended")
    finally:
        await supervisor.stop()
        await services.stop()
        services.close()
        db.close()


async def test_the_group_commit_writer_survives_a_database_outage(prod: Settings) -> None:
    """The chat writer thread outlives batches whose connections died and could not be
    made again (each caller gets the error), and once the database answers again the store
    (eventsourcing's pool) saves the next batches."""
    services = Services(prod)
    pool = services.store.app.recorder.datastore.pool  # eventsourcing's psycopg pool
    author = Author(id=UUID(int=9), username="w", display_name="W")

    def send(content: str) -> Any:
        """The command's result, or the error its batch was answered with."""
        future = services.chat.submit(SendMessage(stream_id=stream_id, author=author,
                                                  content=content))
        try:
            return future.result(60)
        except Exception as e:
            return e

    try:
        stream_id = seed_messages(services, 1, batch=1)
        assert not isinstance(send("before"), Exception)
        # The outage: the store's sessions end and new ones are refused (a closed port).
        kwargs, timeout = dict(pool.kwargs), pool.timeout
        pool.kwargs["port"], pool.timeout = str(free_port()), 0.3
        try:
            with psycopg.connect(**postgres_params(DATABASE_URL), autocommit=True) as conn:
                for c in list(pool._pool):  # the idle sessions
                    conn.execute("SELECT pg_terminate_backend(%s)", (c.info.backend_pid,))
            during = await asyncio.to_thread(send, "during")
        finally:
            pool.kwargs.clear()
            pool.kwargs.update(kwargs)
            pool.timeout = timeout
        assert isinstance(during, Exception), "the outage did not reach the batch"
        assert services.chat.alive, "the writer thread died with its batch"
        deadline = time.monotonic() + 30
        while isinstance(after := await asyncio.to_thread(send, "after"), Exception):
            assert time.monotonic() < deadline, f"the store stayed unusable: {after!r}"
        assert services.chat.alive
        contents = [e.data.get("content") for e in services.store.read(0, 100)[0]
                    if e.type == "ChatMessage.Sent"]
        assert "before" in contents and "after" in contents and "during" not in contents
    finally:
        services.close()


# -- a stalled projector is reported --------------------------------------------------------


@contextlib.contextmanager
def holding_projection_lock(namespace: str, name: str) -> Iterator[None]:
    """Wedges a projector without an error: its commits wait for this lock (the one a
    rebuild's swap takes)."""
    conn = psycopg.connect(**postgres_params(DATABASE_URL), autocommit=True)
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (lock_key(namespace, name),))
        yield
    finally:
        conn.close()


def chat_stream(services: Services) -> UUID:
    return seed_messages(services, 1, batch=1)


async def test_health_ready_and_projections_list_report_a_stalled_projector(
        tmp_path: Path) -> None:
    require_services()
    with serving("production", tmp_path, stall_s=1.0) as live:
        services = live.services
        namespace = services.settings.namespace
        stream_id = await asyncio.to_thread(chat_stream, services)
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
            async def ready() -> httpx.Response:
                return await http.get("/health/ready")

            deadline = time.monotonic() + 20
            while (r := await ready()).status_code != 200:
                assert time.monotonic() < deadline, r.text
                await asyncio.sleep(0.1)
            assert r.json()["checks"]["projectors"] == "ok" and r.json()["stalled"] == []

            with holding_projection_lock(namespace, "chat_history"):
                await asyncio.to_thread(more_messages, services, stream_id, 5, "stuck")
                deadline = time.monotonic() + 15
                while (r := await ready()).status_code != 503:
                    assert time.monotonic() < deadline, f"never reported stalled: {r.text}"
                    await asyncio.sleep(0.2)
                body = r.json()
                assert body["checks"]["projectors"] == "stalled: chat_history", body
                assert body["stalled"] == ["chat_history"]
                assert body["status"] == "unavailable"
                listing = io.StringIO()
                with contextlib.redirect_stdout(listing):
                    from entrypoints.cli_projections import cmd_list
                    assert cmd_list(services.settings, argparse.Namespace(json=False)) == 0
                line = next(x for x in listing.getvalue().splitlines()
                            if x.startswith("chat_history "))
                assert "STALLED" in line, listing.getvalue()
                others = [x for x in listing.getvalue().splitlines()[1:]
                          if not x.startswith("chat_history ")]
                assert not [x for x in others if "STALLED" in x], listing.getvalue()
            deadline = time.monotonic() + 15
            while (r := await ready()).status_code != 200:
                assert time.monotonic() < deadline, f"still unready after the stall: {r.text}"
                await asyncio.sleep(0.1)
            assert r.json()["stalled"] == []


async def test_a_worker_process_liveness_endpoint_reports_a_stall(
        tmp_path: Path) -> None:
    """`aethex project` with AETHEX_HEALTH_PORT: 200 while it works, 503 while its
    projector is stalled, 200 again after; /metrics shows its supervised tasks."""
    require_services()
    namespace = new_namespace()
    services = Services(production_settings(tmp_path, namespace))
    port = free_port()
    env = production_env(namespace, AETHEX_JWT_SECRET="x" * 32, AETHEX_HEALTH_PORT=str(port),
                         AETHEX_STALL_S="1", AETHEX_DATA_DIR=str(tmp_path / "proc-var"),
                         AETHEX_LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "project", "chat_history"],
                            cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}/health/live"
    try:
        stream_id = await asyncio.to_thread(chat_stream, services)
        await services.start(workers=["relay"])

        async def probe() -> httpx.Response | None:
            try:
                async with httpx.AsyncClient(timeout=10) as http:
                    return await http.get(url)
            except httpx.HTTPError:
                return None

        async def until_status(code: int, timeout: float) -> dict[str, Any]:
            deadline = time.monotonic() + timeout
            while True:
                assert proc.poll() is None, "the worker exited"
                r = await probe()
                if r is not None and r.status_code == code:
                    return json.loads(r.text)
                assert time.monotonic() < deadline, r.text if r is not None else "no answer"
                await asyncio.sleep(0.2)

        body = await until_status(200, 30)
        assert body["status"] == "ok"
        assert sorted(t["name"] for t in body["tasks"]) == [
            "group-commit-writer", "projector:chat_history"]
        with holding_projection_lock(namespace, "chat_history"):
            await asyncio.to_thread(more_messages, services, stream_id, 5, "stuck")
            body = await until_status(503, 15)
            assert body["stalled"] == ["chat_history"] and body["status"] == "unhealthy"
        body = await until_status(200, 15)
        async with httpx.AsyncClient(timeout=10) as http:
            metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
        assert 'aethex_task_up{task="projector:chat_history"} 1.0' in metrics
        assert 'aethex_projection_stalled{projection="chat_history"} 0.0' in metrics
    finally:
        stop_processes(proc)
        await services.stop()
        services.close()
        drop_namespace(namespace)
