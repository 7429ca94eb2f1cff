"""The relay: tails the event store's notification log and publishes it to the bus in
batches, with publisher confirms, recording how far it got.

Events go out as runs of consecutive events that share a routing key
(`<Aggregate>.<Event>.<channel>`), then a watermark that every projector queue receives,
so each queue sees positions in increasing order and knows how far the log has been sent.
"""

from __future__ import annotations

import asyncio

import structlog

from infra import metrics
from infra.bus import WATERMARK_KEY, EventBus
from infra.database import Database
from infra.envelope import EventBatch, runs
from infra.event_store import EventStore
from infra.log_watcher import LogWatcher

log = structlog.get_logger(__name__)


class Relay:
    name = "relay"

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

    def _load_position(self) -> int:
        row = self.db.fetch_one("SELECT position FROM relay_position WHERE name = ?", (self.name,))
        return int(row["position"]) if row else 0

    def _save_position(self, position: int) -> None:
        with self.db.transaction(durable=False) as tx:  # a lost position only republishes
            tx.execute("INSERT INTO relay_position (name, position) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                       (self.name, position))

    async def step(self) -> bool:
        """Publishes the next batch of the log; False when there was nothing new."""
        events, upto = await asyncio.to_thread(self.store.read, self.position, self.batch_size)
        if upto <= self.position:
            return False
        batches = [(run[0].routing_key, EventBatch(run, run[-1].position)) for run in runs(events)]
        batches.append((WATERMARK_KEY, EventBatch([], upto)))
        await self.bus.publish(batches)
        metrics.EVENTS_RELAYED.inc(len(events))
        await asyncio.to_thread(self._save_position, upto)
        self.position = upto
        self.published_batches += len(batches)
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        await self.watcher.start()
        self.store.on_saved(self.watcher.poke)
        try:
            while not await self.watcher.try_lead():
                if stopping.is_set():
                    return
                await self.watcher.wait(1.0)
            self.position = await asyncio.to_thread(self._load_position)
            log.info("relay.started", position=self.position)
            while not stopping.is_set():
                try:
                    busy = await self.step()
                except Exception:
                    log.exception("relay.step_failed", position=self.position)
                    await asyncio.sleep(1.0)
                    continue
                if not busy:
                    await self.watcher.wait(self.idle_wait_s)
        finally:
            await self.watcher.close()
