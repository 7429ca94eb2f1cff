"""The webhook sender: reads the event log from its tracked position, like a projector, and
delivers each event a subscription wants to its receiver, signed (Standard Webhooks).

- Reading: each batch of the log becomes payload rows and subscription changes
  (projections/webhook_feed.py) in one transaction with the tracking position, so a
  restart resumes exactly where the last committed batch ended.
- Delivering: each subscription is a lane that sends its events one at a time in position
  order; the head is retried with exponential backoff and jitter until it is delivered
  (any 2xx) or `give_up_s` has passed since its first attempt, which disables the
  subscription (as does a 410 at once). A lane waits only for its own receiver, so a slow
  one (cut off after the timeout) holds up nobody else.
- Recording: attempts are gathered for `FLUSH_EVERY_S` and appended as one
  `WebhookAttempts.Recorded` event (first-attempt successes as compact groups, every
  other attempt as a row), then each lane's progress is saved. A crash between the two
  sends those deliveries again after the restart, with the same `webhook-id`.
- Sharing the machine: the log is read at most every `READ_EVERY_S` (a busy chat commits
  hundreds of times a second, each a NOTIFY), a lane that finishes a send starts its next
  one itself (no read of the log for it), and in its own process (`aethex webhooks`) the
  sender's event loop runs at a low CPU priority (`AETHEX_WEBHOOK_CPU`, infra/runtime/cpu.py)
  while its database work runs in threads at normal priority.

One sender runs at a time across processes (a PostgreSQL advisory lock, held by its
listening connection); `run` is one supervised run.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog

from commands.ports import SecretBox
from commands.webhooks import DisableWebhook, disable_webhook
from domain.channel import Channel
from domain.errors import ConcurrentChange
from domain.webhook_attempts import WebhookAttempts
from infra.eventstore.event_store import EventStore
from infra.eventstore.log_watcher import LogWatcher
from infra.observability import metrics
from infra.readstore.database import Database
from infra.runtime import cpu
from infra.webhooks import signing
from infra.webhooks.delivery import Outcome, Poster
from projections import tracking
from projections import webhook_feed as feed

log = structlog.get_logger(__name__)


@dataclass
class Lane:
    """One subscription's deliveries: `queue` holds every payload it wants in
    (`target.delivered_upto`, `scanned`], oldest first."""

    target: feed.Target
    queue: deque[tuple[int, str, str]] = field(default_factory=deque)
    scanned: int = 0
    busy: bool = False
    generation: int = 0  # bumped when the subscription changes under a send
    extras: deque[feed.Request] = field(default_factory=deque)


@dataclass(frozen=True)
class Policy:
    timeout_s: float = 5.0
    retry_base_s: float = 5.0
    retry_max_s: float = 3600.0
    give_up_s: float = 86400.0

    def backoff(self, attempts: int) -> float:
        delay = min(self.retry_base_s * 2 ** max(0, attempts - 1), self.retry_max_s)
        return delay * random.uniform(0.8, 1.2)


Group = tuple[str, str, str, int | None, str]  # webhook, channel, event type, status, note

_DELIVERED = metrics.WEBHOOK_ATTEMPTS.labels("delivered")
_LATENCY_OK = metrics.WEBHOOK_LATENCY.labels("delivered")


class WebhookSender:
    name = "webhook_sender"
    FLUSH_EVERY_S = 0.5
    FLUSH_AT = 5000  # attempts: flush sooner under load
    READ_EVERY_S = 0.05  # reads of the log gather at least this long of it
    PRUNE_EVERY_S = 10.0
    FILL = 500  # payloads read into a lane at a time
    MAX_IN_FLIGHT = 1000
    DB_THREADS = 3
    CPU_BURST_S = 0.05  # CPU time a capped sender may use at once after a pause

    def __init__(self, store: EventStore, db: Database, watcher: LogWatcher, box: SecretBox,
                 poster: Poster, policy: Policy, *, batch_size: int = 2000,
                 idle_wait_s: float = 0.5, clock: Callable[[], float] = time.time,
                 cpu_policy: cpu.Policy = "normal", cpu_share: float = 0.0,
                 cpu_clock: Callable[[], float] = time.process_time) -> None:
        self.store = store
        self.db = db
        self.watcher = watcher
        self.box = box
        self.poster = poster
        self.policy = policy
        self.batch_size = batch_size
        self.idle_wait_s = idle_wait_s
        self.clock = clock
        self.position = 0
        self.lanes: dict[str, Lane] = {}
        self.by_channel: dict[str, list[Lane]] = {}
        self.viewers_at: dict[str, float] = {}
        self.attempts: list[list[Any]] = []
        self.successes: dict[Group, tuple[list[int], list[int]]] = {}
        self.pending = 0  # attempts gathered (rows and successes) since the last flush
        self.dirty: set[str] = set()
        self.in_flight: set[asyncio.Task[None]] = set()
        self._keys: dict[str, tuple[int, bytes]] = {}
        self._flushed_at = self._pruned_at = self._read_at = 0.0
        self._behind = False  # the last read stopped short of the log's head
        self._stopping = False
        self.delivered = 0  # counters for the tests (/metrics has them by outcome)
        self.failed = 0
        self.cpu_policy = cpu_policy
        # At most this much of one core (the whole process's CPU time), as a token bucket
        # holding up to CPU_BURST_S of it; 0: no cap.
        self.cpu_share = cpu_share
        self.cpu_clock = cpu_clock
        self._cpu_tokens = cpu_share * self.CPU_BURST_S
        self._cpu_seen = (clock(), cpu_clock())
        self._paused = False
        # Started now, from the thread that builds the sender, before `run` lowers the
        # event loop's thread: they keep that thread's (normal) priority.
        self._db_threads = cpu.prestarted_pool(self.DB_THREADS, "webhooks-db")
        self.store.on_saved(self.watcher.poke)

    async def _off(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs blocking database work in the sender's own (normal priority) threads."""
        return await asyncio.get_running_loop().run_in_executor(
            self._db_threads, functools.partial(fn, *args))

    async def _command(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A command on the store, decided again after a lost race (as the command bus
        does), in the sender's database threads."""
        for attempt in range(1, 4):
            try:
                return await self._off(fn, *args)
            except ConcurrentChange:
                if attempt == 3:
                    raise
                await asyncio.sleep(0.005 * attempt)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._db_threads.shutdown(wait=False)

    # -- the run -------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        await self.watcher.start()
        try:
            while not await self.watcher.try_lead():
                if stopping.is_set():
                    return
                await self.watcher.wait(1.0)
            await self._off(self._load)
            group = cpu.own_scheduling_group(self.cpu_policy)
            priority = cpu.lower_this_thread(self.cpu_policy)
            log.info("webhooks.started", position=self.position, subscriptions=len(self.lanes),
                     priority=priority, group=group)
            self._stopping = False
            while not stopping.is_set():
                if not self.watcher.alive:
                    raise ConnectionError("the webhook sender's listening connection (and "
                                          "with it the leader lock) was lost")
                await self.step()
                if self._behind:
                    continue  # more of the log is waiting: read on at once
                await self.watcher.wait(self._idle_wait())
                # A busy log is read in stretches of READ_EVERY_S, not once per commit.
                gap = self._read_at + self.READ_EVERY_S - time.monotonic()
                if gap > 0:
                    await asyncio.sleep(gap)
        finally:
            self._stopping = True
            for task in list(self.in_flight):
                task.cancel()
            for task in list(self.in_flight):
                with contextlib.suppress(BaseException):
                    await task
            with contextlib.suppress(Exception):
                await self.flush()
            await self.watcher.close()

    async def step(self) -> bool:
        """Reads the next batch of the log (True if there was one), fills and starts the
        lanes, and records what finished."""
        read = await self._ingest()
        await self._fill()
        self._dispatch()
        now = time.monotonic()
        if self.pending and (self.pending >= self.FLUSH_AT
                             or now - self._flushed_at >= self.FLUSH_EVERY_S):
            await self.flush()
        if now - self._pruned_at >= self.PRUNE_EVERY_S:
            self._pruned_at = now
            await self._off(self._prune)
        return read

    def _cpu_allows(self) -> bool:
        """False while the sender has used its share of the CPU (`cpu_share`): sends
        wait until the bucket refills."""
        if self.cpu_share <= 0:
            return True
        now, used = self.clock(), self.cpu_clock()
        seen_at, seen_used = self._cpu_seen
        self._cpu_seen = now, used
        self._cpu_tokens = min(self._cpu_tokens + (now - seen_at) * self.cpu_share
                               - (used - seen_used), self.cpu_share * self.CPU_BURST_S)
        if self._cpu_tokens > 0:
            self._paused = False
            return True
        if not self._paused:  # the main loop resumes the lanes when the bucket refills
            self._paused = True
            self.watcher.poke()
        return False

    def _idle_wait(self) -> float:
        waits = [self.idle_wait_s]
        if self._paused:
            waits.append(-self._cpu_tokens / self.cpu_share)
        if self.pending or self.dirty:
            waits.append(self._flushed_at + self.FLUSH_EVERY_S - time.monotonic())
        now = self.clock()
        for lane in self.lanes.values():
            t = lane.target
            if t.enabled and lane.queue and not lane.busy and t.head_next_at is not None:
                waits.append(t.head_next_at - now)
        return max(0.005, min(waits))

    # -- reading the log -------------------------------------------------------------------

    def _load(self) -> None:
        self.position = tracking.position(self.db, self.name)
        self.lanes, self.by_channel = {}, {}
        for target in feed.load_targets(self.db).values():
            self._add_lane(target)

    def _add_lane(self, target: feed.Target) -> Lane:
        lane = Lane(target=target, scanned=target.delivered_upto)
        self.lanes[target.id] = lane
        self.by_channel.setdefault(target.channel_id, []).append(lane)
        return lane

    def _drop_lane(self, webhook_id: str) -> None:
        lane = self.lanes.pop(webhook_id, None)
        if lane is not None:
            lane.generation += 1
            self.by_channel[lane.target.channel_id].remove(lane)

    async def _ingest(self) -> bool:
        self._read_at = time.monotonic()
        self._behind = False
        head = await self._off(self.store.head)
        if head <= self.position:
            return False
        events, upto = await self._off(functools.partial(
            self.store.read, self.position, self.batch_size, types=feed.SOURCE_TYPES,
            stop=head))
        self._behind = upto < head
        if upto <= self.position:
            return False
        targets = {wid: lane.target for wid, lane in self.lanes.items()}
        before = self.position

        def commit() -> feed.Applied:
            with self.db.transaction(durable=False) as tx:
                applied = feed.apply(tx, events, targets, self.viewers_at)
                tracking.set_position(tx, self.name, upto, datetime.now(UTC).isoformat())
            return applied

        applied = await self._off(commit)
        self.position = upto
        for wid in applied.reset:
            self._drop_lane(wid)
            if wid in targets:
                self._add_lane(targets[wid])
        for position, channel_id, event_type, body in applied.payloads:
            for lane in self.by_channel.get(channel_id, ()):
                if lane.scanned >= before and event_type in lane.target.event_types \
                        and position > lane.target.delivered_upto:
                    lane.queue.append((position, event_type, body))
        for lane in self.lanes.values():
            if lane.scanned >= before:
                lane.scanned = upto
        for request in applied.requests:
            lane = self.lanes.get(request.webhook_id)
            if lane is not None:
                lane.extras.append(request)
        return True

    async def _fill(self) -> None:
        """Lanes that fell behind what they hold (a receiver that was down) read their
        next payloads from the table."""
        for lane in list(self.lanes.values()):
            if lane.queue or not lane.target.enabled or lane.scanned >= self.position:
                continue
            target, scanned, gen = lane.target, lane.scanned, lane.generation
            rows = await self._off(feed.pending, self.db, target, scanned, self.FILL)
            if lane.generation != gen:
                continue
            lane.queue.extend((int(r["position"]), r["event_type"], r["body"]) for r in rows)
            lane.scanned = int(rows[-1]["position"]) if len(rows) == self.FILL else self.position

    def _prune(self) -> None:
        with self.db.transaction(durable=False) as tx:
            feed.prune(tx, self.position)

    # -- delivering ------------------------------------------------------------------------

    def _dispatch(self) -> None:
        now = self.clock()
        if not self._cpu_allows():
            return
        for lane in self.lanes.values():
            if not self._dispatch_lane(lane, now):
                return

    def _dispatch_lane(self, lane: Lane, now: float) -> bool:
        """Starts the lane's next send if it has one due; False when the sender has as
        much in flight as it may."""
        if len(self.in_flight) >= self.MAX_IN_FLIGHT:
            return False
        t = lane.target
        if not t.enabled or lane.busy:
            return True
        if lane.extras:
            self._start(lane, self._send_extra(lane, lane.extras.popleft()))
        elif lane.queue and (t.head_next_at is None or now >= t.head_next_at):
            self._start(lane, self._send_head(lane))
        return True

    def _start(self, lane: Lane, work: Any) -> None:
        lane.busy = True
        task = asyncio.ensure_future(work)
        self.in_flight.add(task)

        def done(t: asyncio.Task[None]) -> None:
            full = len(self.in_flight) >= self.MAX_IN_FLIGHT
            self.in_flight.discard(t)
            lane.busy = False
            if t.cancelled() or self._stopping:
                return
            if t.exception() is not None:
                log.error("webhooks.send_failed", webhook=lane.target.id,
                          exc_info=t.exception())
            # The lane goes on by itself while it holds due work; the main loop is woken
            # only for what needs it (a lane to fill from the table, a flush, a lane kept
            # waiting by the in-flight bound).
            if self.lanes.get(lane.target.id) is lane and self._cpu_allows():
                self._dispatch_lane(lane, self.clock())
                if not lane.queue and lane.scanned < self.position:
                    self.watcher.poke()
            if full or self.pending >= self.FLUSH_AT:
                self.watcher.poke()

        task.add_done_callback(done)

    async def _key(self, target: feed.Target) -> bytes:
        cached = self._keys.get(target.id)
        if cached is not None and cached[0] == target.secret_version:
            return cached[1]
        version = target.secret_version
        channel = await self._off(self.store.get, UUID(target.channel_id), Channel)
        hook = channel.webhooks[UUID(target.id)]
        key = signing.secret_bytes(self.box.open(hook.sealed_secret))
        self._keys[target.id] = (version, key)
        return key

    async def _post(self, target: feed.Target, msg_id: str, body: str) -> Outcome:
        key = await self._key(target)
        data = body.encode()
        stamp = int(self.clock())
        return await self.poster.post(target.url, data,
                                      signing.headers(key, msg_id, stamp, data))

    async def _send_head(self, lane: Lane) -> None:
        target, gen = lane.target, lane.generation
        position, event_type, body = lane.queue[0]
        msg_id = feed.delivery_id(target.id, position)
        outcome = await self._post(target, msg_id, body)
        if lane.generation != gen or self.lanes.get(target.id) is not lane:
            return  # changed or deleted meanwhile: the lane starts over
        now = self.clock()
        attempt = target.head_attempts + 1
        next_at: float | None = None
        disable: str | None = None
        if outcome.ok:
            lane.queue.popleft()
            target.delivered_upto = position
            target.head_attempts, target.head_first_at, target.head_next_at = 0, None, None
            self.delivered += 1
            self.dirty.add(target.id)
            if attempt == 1:  # nearly every delivery: recorded in a group
                self._succeeded(target, position, event_type, outcome)
                return
            result = "delivered"
        else:
            self.failed += 1
            first = target.head_first_at if target.head_first_at is not None else now
            gone = outcome.status == 410
            if gone or now - first >= self.policy.give_up_s:
                result = "failed"
                reason = ("the receiver answered 410 Gone" if gone else
                          f"gave up after {attempt} attempts over "
                          f"{int(now - first)} s; last: {_said(outcome)}")
                target.enabled = False
                disable = reason
            else:
                result = "refused" if outcome.note.startswith("refused") else "retrying"
                next_at = now + self.policy.backoff(attempt)
            target.head_attempts, target.head_first_at = attempt, first
            target.head_next_at = next_at
        self.dirty.add(target.id)
        self._record(msg_id, target, position, event_type, attempt, outcome, result, next_at)
        if disable is not None:
            await self._disable(target, disable)

    async def _send_extra(self, lane: Lane, request: feed.Request) -> None:
        """A ping or a redelivery: one attempt, outside the lane's order."""
        target = lane.target
        if request.position == 0:
            event_type = "webhook.ping"
            body = feed.ping_body(target.id, target.channel_id,
                                  datetime.now(UTC).isoformat())
        else:
            found = await self._off(self._payload, target.channel_id, request.position)
            if found is None:
                return
            event_type, body = found
        outcome = await self._post(target, request.delivery_id, body)
        self._record(request.delivery_id, target, request.position, event_type, 1, outcome,
                     "delivered" if outcome.ok else "failed", None)

    def _payload(self, channel_id: str, position: int) -> tuple[str, str] | None:
        """An event's body again: from the table while it is there, else rebuilt from the
        log (the same body: it is made from the event alone)."""
        row = feed.payload_at(self.db, channel_id, position)
        if row is not None:
            return row["event_type"], row["body"]
        events, _ = self.store.read(position - 1, 1)
        for e in events:
            found = feed.payload_of(e)
            if found is not None and e.position == position and e.channel_id == channel_id:
                return found[0], feed.body_of(found[0], e.position, channel_id, e.timestamp,
                                              found[1])
        return None

    async def _disable(self, target: feed.Target, reason: str) -> None:
        try:
            await self._command(disable_webhook, DisableWebhook(
                channel_id=UUID(target.channel_id), webhook_id=UUID(target.id),
                reason=reason), self.store)
            log.warning("webhooks.disabled", webhook=target.id, reason=reason)
        except Exception:
            log.exception("webhooks.disable_failed", webhook=target.id)

    def _succeeded(self, target: feed.Target, position: int, event_type: str,
                   outcome: Outcome) -> None:
        """A first-attempt success, added to its group of the next `Recorded` event."""
        key = (target.id, target.channel_id, event_type, outcome.status, outcome.note)
        group = self.successes.get(key)
        if group is None:
            group = self.successes[key] = ([], [])
        group[0].append(position)
        group[1].append(outcome.latency_ms)
        self.pending += 1
        _DELIVERED.inc()
        _LATENCY_OK.observe(outcome.latency_ms / 1000)

    def _record(self, msg_id: str, target: feed.Target, position: int, event_type: str,
                attempt: int, outcome: Outcome, result: str, next_at: float | None) -> None:
        self.pending += 1
        metrics.WEBHOOK_ATTEMPTS.labels(result).inc()
        metrics.WEBHOOK_LATENCY.labels(result).observe(outcome.latency_ms / 1000)
        self.attempts.append([
            msg_id, target.id, target.channel_id, position, event_type, attempt,
            outcome.status, outcome.latency_ms, result,
            datetime.fromtimestamp(next_at, UTC).isoformat() if next_at else None,
            outcome.note])

    # -- recording -------------------------------------------------------------------------

    async def flush(self) -> None:
        """Appends the attempts gathered as one event, then saves each lane's progress."""
        self._flushed_at = time.monotonic()
        if not self.pending and not self.dirty:
            return
        attempts, self.attempts = self.attempts, []
        successes, self.successes = self.successes, {}
        pending, self.pending = self.pending, 0
        dirty, self.dirty = self.dirty, set()
        # Progress as of these attempts: a delivery that ends while they are saved is
        # recorded (and its progress saved) by the next flush, never the other way round.
        targets = [copy.copy(self.lanes[w].target) for w in dirty if w in self.lanes]
        try:
            if pending:
                delivered = [[*key, positions, latencies]
                             for key, (positions, latencies) in successes.items()]
                await self._off(self.store.save, WebhookAttempts(attempts=attempts,
                                                                 delivered=delivered))
                attempts, successes, pending = [], {}, 0  # saved: not again on a failure

            def save() -> None:
                with self.db.transaction(durable=False) as tx:
                    feed.save_progress(tx, targets)

            if targets:
                await self._off(save)
        except BaseException:
            # Tried again at the next flush (or lost with the process: the deliveries
            # are then sent again).
            self.attempts[:0] = attempts
            for key, (positions, latencies) in successes.items():
                group = self.successes.setdefault(key, ([], []))
                group[0][:0], group[1][:0] = positions, latencies
            self.pending += pending
            self.dirty |= dirty
            raise


def _said(outcome: Outcome) -> str:
    return f"HTTP {outcome.status}" if outcome.status is not None else outcome.note
