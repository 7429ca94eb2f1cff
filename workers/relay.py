"""The relay: tails the event store's notification log and publishes it to the bus in
batches, with publisher confirms, recording how far it got.

Events go out as runs of consecutive events that share a routing key
(`<Aggregate>.<Event>.<channel>`), then a watermark that every projector queue receives,
so each queue sees positions in increasing order and knows how far the log has been sent.

`run` is one supervised run: a failed step (the bus or the database) and a lost listening
connection (which also held the leader lock) end it with the error, and the supervisor
starts it again, which takes the lock anew and resumes from the saved position (a little
may be published twice; projectors and the live feed drop what they have seen).
"""

from __future__ import annotations

import asyncio
import time

import structlog

from infra.eventstore.envelope import EventBatch, runs
from infra.eventstore.event_store import EventStore
from infra.eventstore.log_watcher import LogWatcher
from infra.messaging.bus import WATERMARK_KEY, EventBus
from infra.observability import metrics, tracing
from infra.readstore.database import Database
from infra.runtime.supervisor import working

log = structlog.get_logger(__name__)


class Relay:
    name = "relay"
    MARK_EVERY_S = 0.05
    SAVE_EVERY_S = 0.1

    def __init__(self, store: EventStore, bus: EventBus, db: Database, watcher: LogWatcher, *,
                 batch_size: int = 2000, idle_wait_s: float = 0.5) -> None:
        self.store = store
        self.bus = bus
        self.db = db
        self.watcher = watcher
        self.batch_size = batch_size
        self.idle_wait_s = idle_wait_s
        self.position = 0
        self.published_batches = 0
        self._marked = self._saved = 0  # positions of the last watermark and save
        self._marked_at = self._saved_at = 0.0
        self.store.on_saved(self.watcher.poke)

    def _load_position(self) -> int:
        row = self.db.fetch_one("SELECT position FROM relay_position WHERE name = ?", (self.name,))
        return int(row["position"]) if row else 0

    def _save_position(self, position: int) -> None:
        with self.db.transaction(durable=False) as tx:  # a lost position only republishes
            tx.execute("INSERT INTO relay_position (name, position) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                       (self.name, position))

    async def step(self) -> bool:
        """Publishes the next batch of the log; False when there was nothing new.

        The watermark (which every projector commits) goes out at most every
        `MARK_EVERY_S` and the position is saved at most every `SAVE_EVERY_S`, busy or
        not: under a steady trickle the relay finds nothing new between most commits, and
        a mark at each of those moments would cost every projector a transaction. When
        the log goes quiet, both are brought up to date within those intervals
        (`due_in` tells the run loop when)."""
        events, upto = await asyncio.to_thread(self.store.read, self.position, self.batch_size)
        if upto <= self.position:
            await self._catch_up_marks()
            return False
        batches = [(run[0].routing_key, EventBatch(run, run[-1].position)) for run in runs(events)]
        now = time.monotonic()
        if now - self._marked_at >= self.MARK_EVERY_S:
            batches.append((WATERMARK_KEY, EventBatch([], upto)))
            self._marked, self._marked_at = upto, now
        if tracing.ON:  # a span in each trace the events carry; each message names its own
            with tracing.spans("relay publish", kind="producer",
                               parents=(e.trace for e in events),
                               attributes={"aethex.events": len(events)}) as made:
                traces = [list(dict.fromkeys(made[e.trace] for e in batch.events
                                             if e.trace in made)) for _, batch in batches]
                await self.bus.publish(batches, traces=traces)
        else:
            await self.bus.publish(batches)
        metrics.EVENTS_RELAYED.inc(len(events))
        self.position = upto
        if now - self._saved_at >= self.SAVE_EVERY_S:
            await asyncio.to_thread(self._save_position, upto)
            self._saved, self._saved_at = upto, now
        self.published_batches += len(batches)
        return True

    async def _catch_up_marks(self) -> None:
        now = time.monotonic()
        if self._marked < self.position and now - self._marked_at >= self.MARK_EVERY_S:
            await self.bus.publish([(WATERMARK_KEY, EventBatch([], self.position))])
            self._marked, self._marked_at = self.position, time.monotonic()
            self.published_batches += 1
        if self._saved < self.position and now - self._saved_at >= self.SAVE_EVERY_S:
            await asyncio.to_thread(self._save_position, self.position)
            self._saved, self._saved_at = self.position, time.monotonic()

    def due_in(self) -> float | None:
        """Seconds until a held-back watermark or position save is due; None if none is."""
        now = time.monotonic()
        waits = [at + every - now for done, at, every in (
            (self._marked, self._marked_at, self.MARK_EVERY_S),
            (self._saved, self._saved_at, self.SAVE_EVERY_S)) if done < self.position]
        return max(0.0, min(waits)) if waits else None

    async def run(self, stopping: asyncio.Event) -> None:
        """Publishes until `stopping` is set; raises on a failure, for the supervisor."""
        await self.watcher.start()
        try:
            while not await self.watcher.try_lead():
                if stopping.is_set():
                    return
                await self.watcher.wait(1.0)
            self.position = await asyncio.to_thread(self._load_position)
            self._marked = self._saved = self.position
            log.info("relay.started", position=self.position)
            while not stopping.is_set():
                if not self.watcher.alive:
                    raise ConnectionError("the relay's listening connection (and with it the "
                                          "leader lock) was lost")
                busy = await self.step()
                working()  # read the log (and published what it held)
                if not busy:
                    due = self.due_in()
                    await self.watcher.wait(
                        self.idle_wait_s if due is None else min(due, self.idle_wait_s))
        finally:
            await self.watcher.close()
