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
  `WebhookAttempts.Recorded` event, then each lane's progress is saved. A crash between
  the two sends those deliveries again after the restart, with the same `webhook-id`.

One sender runs at a time across processes (a PostgreSQL advisory lock, held by its
listening connection); `run` is one supervised run.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog

from commands.bus import retrying
from commands.ports import SecretBox
from commands.webhooks import DisableWebhook, disable_webhook
from domain.channel import Channel
from domain.webhook_attempts import WebhookAttempts
from infra.eventstore.event_store import EventStore
from infra.eventstore.log_watcher import LogWatcher
from infra.readstore.database import Database
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


class WebhookSender:
    name = "webhook_sender"
    FLUSH_EVERY_S = 0.2
    FLUSH_AT = 2000  # attempts: flush sooner under load
    PRUNE_EVERY_S = 10.0
    FILL = 500  # payloads read into a lane at a time
    MAX_IN_FLIGHT = 1000

    def __init__(self, store: EventStore, db: Database, watcher: LogWatcher, box: SecretBox,
                 poster: Poster, policy: Policy, *, batch_size: int = 2000,
                 idle_wait_s: float = 0.5, clock: Callable[[], float] = time.time) -> None:
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
        self.dirty: set[str] = set()
        self.in_flight: set[asyncio.Task[None]] = set()
        self._keys: dict[str, tuple[int, bytes]] = {}
        self._flushed_at = self._pruned_at = 0.0
        self.delivered = 0  # counters for the benchmark and /metrics
        self.failed = 0
        self.store.on_saved(self.watcher.poke)

    # -- the run -------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        await self.watcher.start()
        try:
            while not await self.watcher.try_lead():
                if stopping.is_set():
                    return
                await self.watcher.wait(1.0)
            await asyncio.to_thread(self._load)
            log.info("webhooks.started", position=self.position, subscriptions=len(self.lanes))
            while not stopping.is_set():
                if not self.watcher.alive:
                    raise ConnectionError("the webhook sender's listening connection (and "
                                          "with it the leader lock) was lost")
                read = await self.step()
                if not read:
                    await self.watcher.wait(self._idle_wait())
        finally:
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
        if self.attempts and (len(self.attempts) >= self.FLUSH_AT
                              or now - self._flushed_at >= self.FLUSH_EVERY_S):
            await self.flush()
        if now - self._pruned_at >= self.PRUNE_EVERY_S:
            self._pruned_at = now
            await asyncio.to_thread(self._prune)
        return read

    def _idle_wait(self) -> float:
        waits = [self.idle_wait_s]
        if self.attempts:
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
        head = await asyncio.to_thread(self.store.head)
        if head <= self.position:
            return False
        events, upto = await asyncio.to_thread(self.store.read, self.position, self.batch_size,
                                               types=feed.SOURCE_TYPES, stop=head)
        if upto <= self.position:
            return False
        targets = {wid: lane.target for wid, lane in self.lanes.items()}
        before = self.position

        def commit() -> feed.Applied:
            with self.db.transaction(durable=False) as tx:
                applied = feed.apply(tx, events, targets, self.viewers_at)
                tracking.set_position(tx, self.name, upto, datetime.now(UTC).isoformat())
            return applied

        applied = await asyncio.to_thread(commit)
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
            rows = await asyncio.to_thread(feed.pending, self.db, target, scanned, self.FILL)
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
        for lane in self.lanes.values():
            if len(self.in_flight) >= self.MAX_IN_FLIGHT:
                return
            t = lane.target
            if not t.enabled or lane.busy:
                continue
            if lane.extras:
                self._start(lane, self._send_extra(lane, lane.extras.popleft()))
            elif lane.queue and (t.head_next_at is None or now >= t.head_next_at):
                self._start(lane, self._send_head(lane))

    def _start(self, lane: Lane, work: Any) -> None:
        lane.busy = True
        task = asyncio.ensure_future(work)
        self.in_flight.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self.in_flight.discard(t)
            lane.busy = False
            if not t.cancelled() and t.exception() is not None:
                log.error("webhooks.send_failed", webhook=lane.target.id,
                          exc_info=t.exception())
            self.watcher.poke()

        task.add_done_callback(done)

    async def _key(self, target: feed.Target) -> bytes:
        cached = self._keys.get(target.id)
        if cached is not None and cached[0] == target.secret_version:
            return cached[1]
        version = target.secret_version
        channel = await retrying(self.store.get, UUID(target.channel_id), Channel)
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
            result = "delivered"
            self.delivered += 1
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
            found = await asyncio.to_thread(self._payload, target.channel_id,
                                            request.position)
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
            await retrying(disable_webhook, DisableWebhook(
                channel_id=UUID(target.channel_id), webhook_id=UUID(target.id),
                reason=reason), self.store)
            log.warning("webhooks.disabled", webhook=target.id, reason=reason)
        except Exception:
            log.exception("webhooks.disable_failed", webhook=target.id)

    def _record(self, msg_id: str, target: feed.Target, position: int, event_type: str,
                attempt: int, outcome: Outcome, result: str, next_at: float | None) -> None:
        self.attempts.append([
            msg_id, target.id, target.channel_id, position, event_type, attempt,
            outcome.status, outcome.latency_ms, result,
            datetime.fromtimestamp(next_at, UTC).isoformat() if next_at else None,
            outcome.note])

    # -- recording -------------------------------------------------------------------------

    async def flush(self) -> None:
        """Appends the attempts gathered as one event, then saves each lane's progress."""
        self._flushed_at = time.monotonic()
        if not self.attempts and not self.dirty:
            return
        attempts, self.attempts = self.attempts, []
        dirty, self.dirty = self.dirty, set()
        try:
            if attempts:
                await asyncio.to_thread(self.store.save, WebhookAttempts(attempts=attempts))
            targets = [self.lanes[w].target for w in dirty if w in self.lanes]

            def save() -> None:
                with self.db.transaction(durable=False) as tx:
                    feed.save_progress(tx, targets)

            if targets:
                await asyncio.to_thread(save)
        except BaseException:
            self.attempts[:0] = attempts  # tried again at the next flush (or lost with
            self.dirty |= dirty  # the process: the deliveries are then sent again)
            raise


def _said(outcome: Outcome) -> str:
    return f"HTTP {outcome.status}" if outcome.status is not None else outcome.note
