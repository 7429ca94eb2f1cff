"""Benchmarks of the spine on PostgreSQL (+ RabbitMQ for the end-to-end part).

Every figure is reported with a baseline measured in the same run, since the machine is
shared and noisy:
  commit    SendMessage through the command path: one save per message against group
            commit, at the same concurrency, and group commit at API-like concurrency.
  e2e       End-to-end latency, HTTP command -> WebSocket delivery, open loop: message i is
            due at t0 + i/rate and timed from that moment, for every viewer.
  rebuild   chat_history catch-up from the store against reading the raw notification log.
  pipeline  In one process: command -> saved -> the rooms (the node's live feed) and
            -> relayed -> projected, open
            loop (not run unless asked for).
  api       The API node alone (no relay, no projectors), POST .../messages from a fixed
            number of connections, closed loop: throughput only (not run unless asked for).

Run: scripts/bench [--only MODE ...] [--messages N] [--rate R] [--seconds S]
                   [--rebuild-events N] [--drain S]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import math
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import psycopg  # noqa: E402
import uvloop  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from yarl import URL  # noqa: E402

from commands.create_channel import CreateChannel, create_channel  # noqa: E402
from commands.go_live import GoLive, go_live  # noqa: E402
from commands.group_commit import GroupCommitter  # noqa: E402
from commands.register_user import RegisterUser, register_user  # noqa: E402
from commands.send_message import (  # noqa: E402
    Author,
    SendMessage,
    send_message,
    send_messages,
    start_sending,
)
from entrypoints.bootstrap import Services  # noqa: E402
from infra.observability.logging import configure_logging  # noqa: E402
from infra.runtime.heap import settle  # noqa: E402
from infra.settings import load_settings, postgres_params  # noqa: E402
from projections.chat_history import ChatHistory  # noqa: E402
from projections.registry import all_projections  # noqa: E402
from read_api.realtime.feed import LiveFeed  # noqa: E402
from workers.projector import ProjectorRunner  # noqa: E402

DATABASE_URL = os.environ.get("AETHEX_BENCH_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("AETHEX_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("AETHEX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def namespace() -> str:
    return f"bench_{os.getpid()}_{int(time.time())}"


def drop(ns: str) -> None:
    """Removes a run's PostgreSQL schema, and its RabbitMQ queues and exchanges and Redis
    keys where it made any: the services are shared with other engineers' runs."""
    with psycopg.connect(**postgres_params(DATABASE_URL), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            psycopg.sql.Identifier(ns)))

    async def clean_amqp() -> None:
        import aio_pika

        connection = await aio_pika.connect(RABBITMQ_URL, timeout=5)
        async with connection:
            # A channel per deletion: a broker that refuses one (never declared) closes
            # the channel it came on.
            for name in [*(f"projector.{p.name}" for p in all_projections()), "counter"]:
                with contextlib.suppress(Exception):
                    await (await connection.channel()).queue_delete(f"{ns}.{name}")
            for exchange in ("events", "live"):
                with contextlib.suppress(Exception):
                    await (await connection.channel()).exchange_delete(f"{ns}.{exchange}")

    def clean_elsewhere() -> None:
        with contextlib.suppress(Exception):
            asyncio.run(clean_amqp())
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
            try:
                keys = list(client.scan_iter(match=f"{ns}:*", count=1000))
                if keys:
                    client.delete(*keys)
            finally:
                client.close()

    # A thread of its own: the caller may be inside a running event loop.
    worker = threading.Thread(target=clean_elsewhere, daemon=True)
    worker.start()
    worker.join(30)


def services_for(ns: str, **overrides: object) -> Services:
    return Services(load_settings({}, database_url=DATABASE_URL, namespace=ns,
                                  data_dir=f"/tmp/{ns}", jwt_secret="bench-key-" + "x" * 32,
                                  webhook_secret_key="bench-key-" + "x" * 32, **overrides))


def live_stream(services: Services, name: str = "bench") -> tuple[UUID, Author]:
    owner = register_user(RegisterUser(email=f"{name}@example.com", username=name,
                                       password="correct horse"), services.store, services.hasher)
    channel = create_channel(CreateChannel(owner_id=owner.user.id, slug=f"{name}-chan",
                                           name="Bench"), services.store).channel
    stream = go_live(GoLive(actor_id=owner.user.id, channel_id=channel.id), services.store).stream
    return stream.id, Author(id=owner.user.id, username=name, display_name=name)


# ---------------------------------------------------------------------------------------
# Measuring: open-loop schedules, latency histograms, deliveries counted by message number.
# bench_chat.py uses these too.


class Histogram:
    """Durations in 0.1 ms buckets: every delivery to every viewer is kept at a fixed cost
    per delivery (no sample), and the histograms of several processes add up."""

    PER_SECOND = 10_000  # buckets

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.worst = 0.0

    def add(self, seconds: float) -> None:
        # A negative duration (due time not yet reached by a clock read) counts as zero.
        k = int(seconds * self.PER_SECOND) if seconds > 0 else 0
        self.counts[k] = self.counts.get(k, 0) + 1
        if seconds > self.worst:
            self.worst = seconds

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def merge(self, other: Histogram) -> None:
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        self.worst = max(self.worst, other.worst)

    def to_json(self) -> dict[str, Any]:
        return {"counts": list(self.counts.items()), "worst": self.worst}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        h = cls()
        h.counts = {int(k): int(v) for k, v in data["counts"]}
        h.worst = float(data["worst"])
        return h

    def quantile_ms(self, q: float) -> float:
        """Nearest rank; the upper edge of the bucket that holds it (never above the max)."""
        rank, seen = max(1, math.ceil(q * self.n)), 0
        for k in sorted(self.counts):
            seen += self.counts[k]
            if seen >= rank:
                return min((k + 1) / self.PER_SECOND, self.worst) * 1000
        return self.worst * 1000

    def summary(self, quantiles: Sequence[float] = (0.5, 0.9, 0.99, 0.999)) -> str:
        if not self.n:
            return "nothing measured (n=0)"
        parts = [f"p{q * 100:g} {self.quantile_ms(q):.1f} ms" for q in quantiles]
        return f"{', '.join(parts)}, max {self.worst * 1000:.1f} ms (n={self.n:,})"


class Schedule:
    """Open loop: message i is due at t0 + i / rate (wall clock, the same for every process
    on the machine), whatever happened to the messages before it."""

    def __init__(self, rate: float, t0: float | None = None) -> None:
        self.rate = rate
        self.t0 = t0

    def due(self, i: int) -> float:
        assert self.t0 is not None
        return self.t0 + i / self.rate

    async def wait(self, i: int) -> float:
        """Sleeps until message i is due; returns how late this wake-up is (the lag)."""
        due = self.due(i)
        # Again while early: an event loop's timers may fire a little before their time,
        # and a message sent before it was due would flatter the latency.
        while (delay := due - time.time()) > 0:
            await asyncio.sleep(delay)
        return time.time() - due


# A chat message as the server encodes it (compact JSON): the benchmarks' content starts
# with the message's number in the schedule, and the store position follows in the same
# object. Read with a regex from the frame text, so that every viewer can be timed without
# decoding every frame.
_MESSAGE = r'"content":"(\d+) [^"]*"[^{}]*?"position":(\d+)'
_MESSAGE_TEXT = re.compile(_MESSAGE)
_MESSAGE_BYTES = re.compile(_MESSAGE.encode())
_CHAT_EVENT = '"chat:message"'


def parse_messages(frame: str | bytes) -> tuple[list[tuple[int, int]], int]:
    """(message number, store position) of each chat message in a frame (one event, or
    several coalesced into an array), and how many chat messages could not be read so."""
    if isinstance(frame, bytes):
        found = [(int(i), int(p)) for i, p in _MESSAGE_BYTES.findall(frame)]
        events = frame.count(_CHAT_EVENT.encode())
    else:
        found = [(int(i), int(p)) for i, p in _MESSAGE_TEXT.findall(frame)]
        events = frame.count(_CHAT_EVENT)
    return found, max(0, events - len(found))


class ViewerTally:
    """One viewer's deliveries, counted by message number, so that a duplicate cannot make
    up for a lost message. Order is checked against the store's positions: concurrent
    senders may be stored in another order than they were due, but every viewer of a room
    must see the room in the store's order."""

    __slots__ = ("_early", "_last_position", "doubled", "out_of_order", "seen", "unreadable")

    def __init__(self, total: int) -> None:
        self.seen = bytearray(total)
        self.doubled = 0
        self.out_of_order = 0
        self.unreadable = 0
        self._last_position = -1
        self._early: list[tuple[int, float]] = []  # arrivals before the schedule's t0 was known

    def add(self, messages: list[tuple[int, int]], unreadable: int, now: float,
            schedule: Schedule, latency: Histogram) -> None:
        self.unreadable += unreadable
        seen = self.seen
        for i, position in messages:
            if i >= len(seen):
                self.unreadable += 1  # not a number this run sent
                continue
            if seen[i]:
                self.doubled += 1
                continue
            seen[i] = 1
            if position < self._last_position:
                self.out_of_order += 1
            else:
                self._last_position = position
            if schedule.t0 is None:
                self._early.append((i, now))
            else:
                latency.add(now - schedule.due(i))

    def finish(self, expected: bytes | bytearray, schedule: Schedule,
               latency: Histogram) -> dict[str, int]:
        """Counts against the messages this viewer should have had (1 in `expected`)."""
        for i, at in self._early:
            latency.add(at - schedule.due(i))
        self._early.clear()
        delivered = lost = unexpected = 0
        for want, got in zip(expected, self.seen, strict=True):
            if got:
                if want:
                    delivered += 1
                else:
                    unexpected += 1
            elif want:
                lost += 1
        return {"expected": delivered + lost, "delivered": delivered, "lost": lost,
                "doubled": self.doubled, "out_of_order": self.out_of_order,
                "unexpected": unexpected, "unreadable": self.unreadable}


COUNT_KEYS = ("expected", "delivered", "lost", "doubled", "out_of_order", "unexpected",
              "unreadable")


def add_counts(viewers: Sequence[dict[str, int]]) -> dict[str, int]:
    """Totals over viewers, with how many lost any and the viewer that got the smallest
    share of what it should have had (rooms may have different counts)."""
    totals = {k: sum(v[k] for v in viewers) for k in COUNT_KEYS}
    totals["viewers"] = len(viewers)
    totals["viewers_short"] = sum(1 for v in viewers if v["lost"])
    worst = min(viewers, key=_share, default={"delivered": 0, "expected": 0})
    totals["fewest"], totals["fewest_of"] = worst["delivered"], worst["expected"]
    return totals


def _share(v: dict[str, int]) -> float:
    return v["delivered"] / v["expected"] if v["expected"] else 1.0


def merge_counts(parts: Sequence[dict[str, int]]) -> dict[str, int]:
    """Totals of several `add_counts` (one per client process)."""
    totals = {k: sum(p[k] for p in parts) for k in (*COUNT_KEYS, "viewers", "viewers_short")}
    worst = min(({"delivered": p["fewest"], "expected": p["fewest_of"]} for p in parts),
                key=_share, default={"delivered": 0, "expected": 0})
    totals["fewest"], totals["fewest_of"] = worst["delivered"], worst["expected"]
    return totals


def counts_line(c: dict[str, int]) -> str:
    return (f"delivered {c['delivered']:,} of {c['expected']:,} to {c['viewers']:,} viewers "
            f"(worst viewer {c['fewest']:,} of {c['fewest_of']:,}; "
            f"{c['viewers_short']} viewers short); lost {c['lost']}, doubled {c['doubled']}, "
            f"out of order {c['out_of_order']}, unexpected {c['unexpected']}, "
            f"unreadable {c['unreadable']}")


def closed_line(closed: dict[str, int]) -> str:
    """Viewers whose connection the server closed before the run's end, by close code."""
    if not closed:
        return "closed early 0"
    codes = ", ".join(f"{n} with code {code}" for code, n in sorted(closed.items()))
    return f"closed early {sum(closed.values())} ({codes})"


def lag_line(lag: Histogram) -> str:
    return (f"sender behind schedule (actual send - due): p50 {lag.quantile_ms(0.5):.1f} ms, "
            f"p99 {lag.quantile_ms(0.99):.1f} ms, max {lag.worst * 1000:.1f} ms "
            f"(n={lag.n:,} sends)")


# ---------------------------------------------------------------------------------------
# commit


def bench_group_commit(messages: int, threads: int, senders: Sequence[int],
                       max_batch: int) -> dict[str, Any]:
    """One save per message from `threads` threads, then group commit from each number of
    concurrent `senders` (the ratio is like for like only where the concurrency is the
    same), and after each group commit the ceiling: the rows it stored, copied raw."""
    ns = namespace()
    services = services_for(ns)
    try:
        stream_id, author = live_stream(services)
        settle()  # as every long-running process does once started (infra/runtime/heap.py)

        def one(i: int) -> None:
            send_message(SendMessage(stream_id=stream_id, author=author, content=f"single {i}"),
                         services.store)

        baseline_n = max(500, messages // 10)
        with ThreadPoolExecutor(threads) as pool:
            t0 = time.perf_counter()
            list(pool.map(one, range(baseline_n)))
            single_s = time.perf_counter() - t0
        single_rate = baseline_n / single_s

        grouped: list[dict[str, Any]] = []
        for concurrency in senders:
            # As many messages as the baseline where the concurrency is the baseline's, so
            # the two sides do the same work; the full count where it is API-like.
            n = baseline_n if concurrency <= threads else messages
            sizes: list[int] = []
            # As the API node runs it (entrypoints/bootstrap.py): the next batch decided
            # while the last one's rows are taken by the server.
            committer = GroupCommitter(lambda cmds: start_sending(cmds, services.store),
                                       window_s=0.002, max_batch=max_batch,
                                       on_batch=sizes.append)

            async def flood(n: int = n, concurrency: int = concurrency,
                            committer: GroupCommitter = committer) -> None:
                # Like API request handlers: concurrent senders, each awaiting its result.
                async def sender(k: int) -> None:
                    for i in range(k, n, concurrency):
                        result = await committer(SendMessage(
                            stream_id=stream_id, author=author, content=f"grouped {i}"))
                        assert not isinstance(result, Exception), result

                await asyncio.gather(*(sender(k) for k in range(concurrency)))

            head = services.store.head()
            t0 = time.perf_counter()
            uvloop.run(flood())  # the API node's loop (uvicorn runs on uvloop)
            grouped_s = time.perf_counter() - t0
            committer.close()
            rate = n / grouped_s
            batch = round(statistics.mean(sizes))
            ceiling = copy_ceiling(ns, head, batch)
            grouped.append({"senders": concurrency, "n": n, "per_s": rate,
                            "ratio": rate / single_rate, "batches": len(sizes),
                            "mean_batch": statistics.mean(sizes), "max_batch": max(sizes),
                            "copy_per_s": ceiling, "copy_batch": batch,
                            "copy_ratio": rate / ceiling})
        return {"single_per_s": single_rate, "baseline_n": baseline_n, "threads": threads,
                "grouped": grouped}
    finally:
        services.close()
        drop(ns)


def copy_ceiling(ns: str, after: int, batch: int, repeat: int = 3) -> float:
    """Rows/s of a raw binary COPY of the events stored after position `after` (already
    encoded, read back from the log) into a new table of the event store's shape (its
    columns, primary key and position index), `batch` rows per transaction, each
    committed: what PostgreSQL and the disk take, with no Python work per row. A pass
    takes a fraction of a second, so a checkpoint or a neighbour's burst moves it a lot:
    the median of `repeat` passes, each into a fresh table."""
    table = psycopg.sql.Identifier(ns, "copy_ceiling")
    rates: list[float] = []
    with psycopg.connect(**postgres_params(DATABASE_URL), autocommit=True) as conn:
        rows = conn.execute(psycopg.sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE notification_id > %s ORDER BY notification_id").format(
                psycopg.sql.Identifier(ns, "aethex_events")), (after,)).fetchall()
        statement = psycopg.sql.SQL(
            "COPY {} (originator_id, originator_version, topic, state) FROM STDIN "
            "(FORMAT BINARY)").format(table)
        for _ in range(repeat):
            conn.execute(psycopg.sql.SQL("DROP TABLE IF EXISTS {}").format(table))
            conn.execute(psycopg.sql.SQL(
                "CREATE TABLE {} (originator_id uuid NOT NULL, originator_version bigint "
                "NOT NULL, topic text, state bytea, notification_id bigserial, "
                "PRIMARY KEY (originator_id, originator_version))").format(table))
            conn.execute(psycopg.sql.SQL("CREATE UNIQUE INDEX ON {} (notification_id)")
                         .format(table))
            t0 = time.perf_counter()
            for start in range(0, len(rows), batch):
                with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
                    copy.set_types(["uuid", "int8", "text", "bytea"])
                    for row in rows[start:start + batch]:
                        copy.write_row(row)
            rates.append(len(rows) / (time.perf_counter() - t0))
        conn.execute(psycopg.sql.SQL("DROP TABLE {}").format(table))
    return statistics.median(rates)


# ---------------------------------------------------------------------------------------
# rebuild


def bench_rebuild(events: int) -> dict[str, float]:
    ns = namespace()
    services = services_for(ns, projector_batch_size=5000)
    try:
        stream_id, author = live_stream(services)
        for start in range(0, events, 1000):
            cmds = [SendMessage(stream_id=stream_id, author=author, content=f"rebuild {i}")
                    for i in range(start, min(events, start + 1000))]
            send_messages(cmds, services.store)
        head = services.store.head()
        recorder = services.store.app.recorder

        t0 = time.perf_counter()
        position, raw = 0, 0
        while position < head:
            page = recorder.select_notifications(start=position + 1, limit=5000)
            raw += len(page)
            position = page[-1].id
        raw_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        position, decoded = 0, 0
        while position < head:
            page, position = services.store.read(position, 5000)
            decoded += len(page)
        decode_s = time.perf_counter() - t0

        runner = ProjectorRunner(ChatHistory(), services.store, services.db, services.bus,
                                 batch_size=5000)
        t0 = time.perf_counter()
        asyncio.run(runner.catch_up())
        rebuild_s = time.perf_counter() - t0
        rows = services.db.fetch_one("SELECT COUNT(*) AS n FROM chat_messages")
        assert rows and rows["n"] == events, rows
        rebuild_rate, raw_rate = head / rebuild_s, raw / raw_s
        return {"events": head, "raw_per_s": raw_rate, "decode_per_s": decoded / decode_s,
                "rebuild_per_s": rebuild_rate, "ratio_to_raw": rebuild_rate / raw_rate}
    finally:
        services.close()
        drop(ns)


# ---------------------------------------------------------------------------------------
# The service in processes of its own (e2e, api; bench_chat.py and bench_sio.py too).


def start_topology(env: dict[str, str], port: int, topology: str,
                   processes: int = 1) -> list[subprocess.Popen[bytes]]:
    """The service as the benchmarks run it; the API node first in the list.

    "compose": as docker-compose.yml runs it, the API node runs no relay or projectors;
    `aethex relay` and `aethex project` run in their own processes. "single": one
    `aethex serve` runs everything (the embedded mode can only run this way)."""
    procs: list[subprocess.Popen[bytes]] = []
    if topology == "compose":
        env = {**env, "AETHEX_WORKERS": "reconnect_grace"}
        subprocess.run([sys.executable, "-m", "entrypoints.cli", "migrate"], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL)
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port),
         "--processes", str(processes)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL))
    if topology == "compose":
        for command in ("relay", "project"):
            procs.append(subprocess.Popen([sys.executable, "-m", "entrypoints.cli", command],
                                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL))
    return procs


def wait_ready(base: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        exited = [(p.args, p.returncode) for p in procs if p.poll() is not None]
        if exited:
            raise RuntimeError(f"the service did not start: exited {exited}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service did not answer on {base} within {timeout:g} s")
        time.sleep(0.2)


def stop_topology(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(20)


def _service_env(ns: str) -> dict[str, str]:
    return {**os.environ, "AETHEX_DATABASE_URL": DATABASE_URL, "AETHEX_RABBITMQ_URL": RABBITMQ_URL,
            "AETHEX_NAMESPACE": ns, "AETHEX_JWT_SECRET": "bench-key-" + "x" * 32,
            "AETHEX_WEBHOOK_SECRET_KEY": "bench-key-" + "x" * 32,
            "AETHEX_LOG_LEVEL": "WARNING", "AETHEX_DATA_DIR": f"/tmp/{ns}",
            "AETHEX_CHAT_RATE_LIMIT": "none"}  # one bench user sends it all


async def _live_stream_over_http(base: str, name: str) -> tuple[str, str]:
    """Registers a user, makes a channel and takes it live; (stream id, bearer token)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.post("/api/auth/register", json={
            "email": f"{name}@example.com", "username": name, "password": "correct horse"})
        token = r.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        channel = (await http.post("/api/channels", json={"slug": name, "name": name.upper()},
                                   headers=headers)).json()
        stream = (await http.post(f"/api/streams/{channel['id']}/start", json={},
                                  headers=headers)).json()
    return stream["id"], token


# ---------------------------------------------------------------------------------------
# e2e


def bench_end_to_end(rate: int, seconds: float, viewers: int, processes: int = 1,
                     topology: str = "compose", connections: int = 64,
                     drain: float = 5.0) -> dict[str, Any]:
    """The real service on PostgreSQL + RabbitMQ; a sender process posts over HTTP on an
    open-loop schedule of `rate` messages/s and this one times each message, at every
    viewer, from the moment it was due until its frame arrives."""
    ns = namespace()
    port = 18000 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"
    procs = start_topology(_service_env(ns), port, topology, processes)
    try:
        wait_ready(base, procs)
        return uvloop.run(_e2e(base, rate, seconds, viewers, connections, drain))
    finally:
        stop_topology(procs)
        drop(ns)


async def _e2e(base: str, rate: int, seconds: float, viewers: int, connections: int,
               drain: float) -> dict[str, Any]:
    sid, token = await _live_stream_over_http(base, "e2e")
    sockets = [await connect(f"{base.replace('http', 'ws')}/ws/streams/{sid}")
               for _ in range(viewers)]
    total = int(rate * seconds)
    schedule = Schedule(rate)
    latency = Histogram()
    tallies = [ViewerTally(total) for _ in range(viewers)]
    closed_early: dict[str, int] = {}  # close code -> connections

    async def watch(tally: ViewerTally, ws: ClientConnection) -> None:
        # Every viewer reads the message numbers from the raw frame and is timed: no
        # sample. It watches until the deadline, not until an expected count.
        try:
            while True:
                raw = await ws.recv(decode=False)
                tally.add(*parse_messages(raw), time.time(), schedule, latency)
        except ConnectionClosed as closed:
            code = str(closed.rcvd.code if closed.rcvd else None)
            closed_early[code] = closed_early.get(code, 0) + 1

    cpu0 = time.process_time()
    watchers = [asyncio.create_task(watch(t, ws)) for t, ws in zip(tallies, sockets, strict=True)]
    try:
        # The sender runs in its own process, so this one only receives. It prints the
        # schedule's t0 before the first message is due, and its summary at the end.
        sender = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--send", base, sid, token, str(rate), str(total),
            str(connections), stdout=asyncio.subprocess.PIPE)
        assert sender.stdout is not None
        schedule.t0 = json.loads(await sender.stdout.readline())["t0"]
        out = await sender.stdout.read()
        if await sender.wait():
            raise RuntimeError(f"the sender failed (exit {sender.returncode})")
        sent = json.loads(out)
        # The last send is done (answered) and no earlier than its due time: whatever is
        # still on its way has `drain` seconds to arrive.
        await asyncio.sleep(drain)
        for w in watchers:
            if w.done():
                w.result()  # a watcher's own failure, if any
    finally:
        for w in watchers:
            w.cancel()
        for ws in sockets:
            await ws.close()
    viewer_cpu = time.process_time() - cpu0
    expected = bytearray(b"\x01" * total)
    for i in sent["error_ids"]:
        expected[i] = 0  # refused by the server: not expected anywhere
    counts = add_counts([t.finish(expected, schedule, latency) for t in tallies])
    return {"sent": total, "errors": len(sent["error_ids"]), "achieved_rate": sent["rate"],
            "counts": counts, "latency": latency, "lag": Histogram.from_json(sent["lag"]),
            "closed_early": closed_early, "viewers": viewers, "connections": connections,
            "sender_cpu_ms": sent["cpu_s"] / total * 1000,
            "viewer_cpu_ms": viewer_cpu / total * 1000}


async def _send(base: str, sid: str, token: str, rate: int, total: int,
                workers: int = 64) -> None:
    """Sends `total` messages on an open-loop schedule of `rate`/s, HTTP/1.1 over at most
    `workers` keep-alive connections; message i is due at t0 + i/rate whether or not the
    connections are free. Prints the schedule's t0 first, then one JSON line: the numbers
    of the messages refused (non-201 or no answer), the achieved rate, how far behind its
    schedule each send went out, and this process's CPU seconds (aiohttp's C parser costs
    far less per request than httpx, so the load generator leaves the CPU to the server)."""
    cpu0 = time.process_time()
    url = URL(f"{base}/api/streams/{sid}/messages")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    error_ids: list[int] = []
    lag = Histogram()
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    schedule = Schedule(rate)

    async def worker(http: aiohttp.ClientSession) -> None:
        while (i := await queue.get()) is not None:
            # A message waiting for a free connection is late: that is the sender's lag,
            # and the latency still counts from the due time.
            lag.add(time.time() - schedule.due(i))
            body = json.dumps({"content": f"{i} e2e"}, separators=(",", ":"))
            try:
                async with http.post(url, data=body.encode()) as resp:
                    await resp.read()  # the whole response, so the connection is reused
                    if resp.status != 201:
                        error_ids.append(i)
            except (aiohttp.ClientError, TimeoutError):
                error_ids.append(i)

    # One session whose pool holds `workers` connections: as cheap as a session per worker.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=workers),
                                     headers=headers, timeout=aiohttp.ClientTimeout(total=30),
                                     cookie_jar=aiohttp.DummyCookieJar()) as http:
        tasks = [asyncio.create_task(worker(http)) for _ in range(workers)]
        schedule.t0 = time.time() + 0.2  # the receiver learns t0 before anything is due
        print(json.dumps({"t0": schedule.t0}), flush=True)
        for i in range(total):
            await schedule.wait(i)
            queue.put_nowait(i)
        for _ in tasks:
            queue.put_nowait(None)
        await asyncio.gather(*tasks)
        elapsed = time.time() - schedule.t0
    print(json.dumps({"error_ids": error_ids, "rate": total / elapsed, "lag": lag.to_json(),
                      "cpu_s": time.process_time() - cpu0}))


# ---------------------------------------------------------------------------------------
# pipeline


def bench_pipeline(rate: float, seconds: float, drain: float = 3.0) -> dict[str, Any]:
    """One process runs the group commit, the relay, every projector and an API node's
    live feed, on PostgreSQL + RabbitMQ; commands go straight to the group commit (no HTTP,
    no WebSocket), open loop. Times each message from due to saved (the group commit's
    answer), to the rooms (what the live feed hands them: the fast path from the commit)
    and to projected (chat_history has committed it)."""
    configure_logging(json_logs=False, level="WARNING")  # the workers' start-up lines
    ns = namespace()
    services = services_for(ns, rabbitmq_url=RABBITMQ_URL)
    try:
        stream_id, author = live_stream(services)
        return uvloop.run(_pipeline(services, stream_id, author, rate, seconds, drain))
    finally:
        services.close()
        drop(ns)


async def _pipeline(services: Services, stream_id: UUID, author: Author, rate: float,
                    seconds: float, drain: float) -> dict[str, Any]:
    total = int(rate * seconds)
    schedule = Schedule(rate)
    saved, projected, live, lag = Histogram(), Histogram(), Histogram(), Histogram()
    tally = ViewerTally(total)
    error_ids: list[int] = []
    stored: dict[int, int] = {}  # message number -> store position

    # When chat_history committed up to which position, told by its projector (on its
    # thread) through the callback the read-your-writes board gets.
    committed: list[tuple[int, float]] = []
    moved = services.positions.moved

    def on_position(name: str, position: int) -> None:
        if name == "chat_history":
            committed.append((position, time.time()))
        moved(name, position)

    services.positions.moved = on_position  # type: ignore[method-assign]

    def to_rooms(updates: Sequence[Any]) -> None:
        now = time.time()
        messages = []
        for u in updates:
            if u.event == "chat:message":
                messages.append((int(u.data["content"].split()[0]), int(u.data["position"])))
        tally.add(messages, 0, now, schedule, live)

    async def no_stream(stream_id: str) -> None:
        return None

    async def no_wait(position: int) -> None:
        return None

    loop = asyncio.get_running_loop()
    feed = LiveFeed(services.bus, to_rooms, no_stream, no_wait, has_room=lambda _: False)

    def on_commit(results: list[Any]) -> None:
        loop.call_soon_threadsafe(feed.committed, results)

    await services.start(live=feed.on_live)
    await feed.start()
    services.chat_listeners.append(on_commit)
    try:
        async def one(i: int) -> None:
            result = await services.chat(SendMessage(stream_id=stream_id, author=author,
                                                     content=f"{i} pipeline"))
            if isinstance(result, Exception):
                error_ids.append(i)
            else:
                saved.add(time.time() - schedule.due(i))
                stored[i] = result.position

        await asyncio.sleep(1.0)  # the relay and projectors have subscribed
        schedule.t0 = time.time() + 0.1
        sends = []
        for i in range(total):
            lag.add(await schedule.wait(i))
            sends.append(asyncio.create_task(one(i)))
        await asyncio.gather(*sends)
        await asyncio.sleep(drain)
    finally:
        services.chat_listeners.remove(on_commit)
        await feed.stop()
        await services.stop()
    positions = [p for p, _ in committed]
    for i, position in stored.items():
        k = bisect.bisect_left(positions, position)
        if k < len(committed):
            projected.add(committed[k][1] - schedule.due(i))
    expected = bytearray(b"\x01" * total)
    for i in error_ids:
        expected[i] = 0
    counts = add_counts([tally.finish(expected, schedule, live)])
    return {"sent": total, "errors": len(error_ids), "saved": saved, "projected": projected,
            "live": live, "lag": lag, "counts": counts}


# ---------------------------------------------------------------------------------------
# api


def bench_api(seconds: float, connections: int) -> dict[str, Any]:
    """The API node alone, as in the compose topology but with no relay or projectors
    running: `connections` clients POST messages back to back (closed loop). Measures how
    many requests the node answers; the response times of a closed loop hide queueing, so
    only their median is shown, as a description of the load, not as a latency figure."""
    ns = namespace()
    port = 18000 + (os.getpid() + 500) % 1000
    base = f"http://127.0.0.1:{port}"
    env = {**_service_env(ns), "AETHEX_WORKERS": "reconnect_grace"}
    subprocess.run([sys.executable, "-m", "entrypoints.cli", "migrate"], cwd=ROOT,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    procs = [subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve",
                               "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)]
    try:
        wait_ready(base, procs)
        return uvloop.run(_api(base, seconds, connections))
    finally:
        stop_topology(procs)
        drop(ns)


async def _api(base: str, seconds: float, connections: int) -> dict[str, Any]:
    sid, token = await _live_stream_over_http(base, "apibench")
    url = URL(f"{base}/api/streams/{sid}/messages")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    answered, errors, response = 0, 0, Histogram()
    cpu0 = time.process_time()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections),
                                     headers=headers, timeout=aiohttp.ClientTimeout(total=30),
                                     cookie_jar=aiohttp.DummyCookieJar()) as http:
        end = time.perf_counter() + seconds

        async def client(k: int) -> None:
            nonlocal answered, errors
            i = 0
            while time.perf_counter() < end:
                body = json.dumps({"content": f"{i} api {k}"}, separators=(",", ":")).encode()
                started = time.perf_counter()
                try:
                    async with http.post(url, data=body) as resp:
                        await resp.read()
                        errors += resp.status != 201
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                answered += 1
                response.add(time.perf_counter() - started)
                i += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(connections)))
        elapsed = time.perf_counter() - t0
    return {"requests": answered, "errors": errors, "per_s": answered / elapsed,
            "median_ms": response.quantile_ms(0.5),
            "client_cpu_ms": (time.process_time() - cpu0) / max(1, answered) * 1000}


# ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000,
                        help="commit: messages for the many-senders group commit")
    parser.add_argument("--threads", type=int, default=16,
                        help="commit: threads saving one message each at a time (baseline)")
    parser.add_argument("--senders", default="16,2000",
                        help="commit: concurrent group-commit senders, a comma list")
    parser.add_argument("--max-batch", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=1000, help="e2e: messages/s")
    parser.add_argument("--seconds", type=float, default=10,
                        help="e2e, pipeline, api: length of the run")
    parser.add_argument("--drain", type=float, default=5,
                        help="e2e, pipeline: seconds viewers go on watching after the last "
                             "send is answered")
    parser.add_argument("--viewers", type=int, default=5)
    parser.add_argument("--connections", type=int, default=None,
                        help="e2e: sender's HTTP connections (default 64); api: clients "
                             "(default 32)")
    parser.add_argument("--processes", type=int, default=1, help="API processes (e2e)")
    parser.add_argument("--topology", choices=["compose", "single"], default="compose",
                        help="e2e: compose = API node, relay and projectors in their own "
                             "processes (as docker-compose.yml); single = one `aethex serve`")
    parser.add_argument("--rebuild-events", type=int, default=100000)
    parser.add_argument("--pipeline-rate", type=float, default=100,
                        help="pipeline: messages/s")
    parser.add_argument("--only", choices=["commit", "e2e", "rebuild", "pipeline", "api"],
                        action="append",
                        help="modes to run (repeatable); default commit, e2e and rebuild")
    args = parser.parse_args()
    only = set(args.only or ["commit", "e2e", "rebuild"])
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"# AeThex Live benchmarks, {started}, {os.cpu_count()} cores", flush=True)
    if "commit" in only:
        senders = [int(s) for s in args.senders.split(",") if s.strip()]
        r = bench_group_commit(args.messages, args.threads, senders, args.max_batch)
        print(f"SendMessage, one save per message ({r['threads']} concurrent senders: threads; "
              f"{r['baseline_n']} msgs): {r['single_per_s']:,.0f} msg/s")
        for g in r["grouped"]:
            alike = ("same concurrency as the baseline" if g["senders"] == r["threads"]
                     else f"NOT the baseline's concurrency ({r['threads']})")
            print(f"SendMessage, group commit ({g['senders']} concurrent senders: asyncio "
                  f"tasks; {g['n']} msgs): {g['per_s']:,.0f} msg/s, {g['batches']} batches, "
                  f"mean {g['mean_batch']:.0f}, max {g['max_batch']}")
            print(f"  ratio group commit at {g['senders']} senders / one save per message at "
                  f"{r['threads']}: {g['ratio']:.1f}x ({alike}; goal 25x at 2,000 senders)")
            print(f"  raw COPY of the same {g['n']} rows, {g['copy_batch']} per transaction "
                  "(median of 3): "
                  f"{g['copy_per_s']:,.0f} rows/s; ratio group commit / raw COPY: "
                  f"{g['copy_ratio']:.2f} (goal 0.25 at 2,000 senders)")
    if "e2e" in only:
        r = bench_end_to_end(args.rate, args.seconds, args.viewers, args.processes,
                             args.topology, args.connections or 64, args.drain)
        c = r["counts"]
        print(f"End to end ({args.topology} topology, {args.processes} API process(es)), "
              f"HTTP send -> WebSocket delivery, open loop, "
              f"{args.rate} msg/s due for {args.seconds:g} s over at most {r['connections']} "
              f"connections, {r['viewers']} viewers: achieved {r['achieved_rate']:,.0f} msg/s, "
              f"{r['errors']} errors")
        print(f"  {counts_line(c)}; {closed_line(r['closed_early'])}")
        print(f"  {lag_line(r['lag'])}")
        print(f"  latency due -> frame, every message at every viewer: {r['latency'].summary()}")
        print(f"  CPU per message: sender {r['sender_cpu_ms']:.3f} ms, "
              f"viewers {r['viewer_cpu_ms']:.3f} ms")
    if "pipeline" in only:
        r = bench_pipeline(args.pipeline_rate, args.seconds, args.drain)
        print(f"Pipeline in one process (PostgreSQL + RabbitMQ; group commit -> saved -> "
              f"rooms, and -> relayed -> projected), open loop, {args.pipeline_rate:g} msg/s "
              f"due for {args.seconds:g} s: {r['errors']} errors")
        print(f"  {lag_line(r['lag'])}")
        print(f"  due -> saved (group commit answered): {r['saved'].summary()}")
        print(f"  due -> rooms (the live feed delivered): {r['live'].summary()}")
        print(f"  rooms: {counts_line(r['counts'])}")
        print(f"  due -> projected (chat_history committed): {r['projected'].summary()}")
    if "api" in only:
        conns = args.connections or 32
        r = bench_api(args.seconds, conns)
        print(f"API node alone (no relay or projectors), POST .../messages, {conns} connections "
              f"back to back (closed loop) for {args.seconds:g} s: {r['per_s']:,.0f} req/s, "
              f"{r['requests']:,} requests, {r['errors']} errors (median response "
              f"{r['median_ms']:.1f} ms; client CPU {r['client_cpu_ms']:.3f} ms per request)")
    if "rebuild" in only:
        r = bench_rebuild(args.rebuild_events)
        print(f"Log of {r['events']:,} events: raw notification read {r['raw_per_s']:,.0f} ev/s, "
              f"read+decode {r['decode_per_s']:,.0f} ev/s")
        print(f"  chat_history catch-up {r['rebuild_per_s']:,.0f} ev/s "
              f"(ratio to raw read {r['ratio_to_raw']:.2f})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--send":
        _, _, base_url, stream, bearer, per_s, count, conns = sys.argv
        uvloop.run(_send(base_url, stream, bearer, int(per_s), int(count), int(conns)))
    else:
        main()
