"""The product-events worker: reads the event log from a tracked position, like the
webhook sender, and sends the product's key events to PostHog (when `AETHEX_POSTHOG_KEY`
is set): `signed up`, `went live`, `chatted`, `followed`.

It is a reader of its own rather than a part of the webhook sender: the sender's lanes,
signatures, per-subscription retries and delivery log serve customers' receivers, while
analytics is one destination whose client batches and retries by itself; kept apart, an
analytics outage never holds up a webhook, and neither shares the other's tables.

Delivery is at least once: a batch's position is saved after PostHog took it, and each
capture's `uuid` is the event's stable id, so a batch sent again counts once. Nothing
personal beyond our user id goes out: no email, name, message text or address.
One worker runs at a time across processes (a leader lock, as the relay's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import structlog

from domain.stream import Stream
from infra.analytics.posthog import ProductEvent
from infra.eventstore.envelope import EventEnvelope
from infra.eventstore.event_store import EventStore
from infra.eventstore.log_watcher import LogWatcher
from infra.readstore.database import Database
from infra.runtime.supervisor import working
from projections import tracking

log = structlog.get_logger(__name__)

# Event type -> the product event's name.
PRODUCT_EVENTS = {
    "User.Registered": "signed up",
    "Stream.Started": "went live",
    "ChatMessage.Sent": "chatted",
    "Follow.Followed": "followed",
    "Follow.Refollowed": "followed",
}


class ProductEvents:
    name = "product_events"

    def __init__(self, store: EventStore, db: Database, watcher: LogWatcher,
                 send: Callable[[list[ProductEvent]], None], *, batch_size: int = 500,
                 idle_wait_s: float = 0.5) -> None:
        self.store = store
        self.db = db
        self.watcher = watcher
        self.send = send
        self.batch_size = batch_size
        self.idle_wait_s = idle_wait_s
        self.position = 0
        self.sent = 0
        self.store.on_saved(self.watcher.poke)

    async def run(self, stopping: asyncio.Event) -> None:
        await self.watcher.start()
        try:
            while not await self.watcher.try_lead():
                if stopping.is_set():
                    return
                await self.watcher.wait(1.0)
            self.position = await asyncio.to_thread(tracking.position, self.db, self.name)
            log.info("product_events.started", position=self.position)
            while not stopping.is_set():
                if not self.watcher.alive:
                    raise ConnectionError("the product-events worker's listening connection "
                                          "(and with it the leader lock) was lost")
                busy = await self.step()
                working()
                if not busy:
                    await self.watcher.wait(self.idle_wait_s)
        finally:
            await self.watcher.close()

    async def step(self) -> bool:
        """Sends the next batch of the log's product events; False when there was none."""
        head = await asyncio.to_thread(self.store.head)
        if head <= self.position:
            return False
        events, upto = await asyncio.to_thread(
            self.store.read, self.position, self.batch_size, types=tuple(PRODUCT_EVENTS),
            stop=min(head, self.position + self.batch_size * 50))
        if upto <= self.position:
            return False
        captures = await asyncio.to_thread(lambda: [self.product_event(e) for e in events])
        if captures:
            await asyncio.to_thread(self.send, captures)
        await asyncio.to_thread(self._save, upto)
        self.position = upto
        self.sent += len(captures)
        return True

    def _save(self, upto: int) -> None:
        with self.db.transaction() as tx:
            tracking.set_position(tx, self.name, upto, datetime.now(UTC).isoformat())

    def product_event(self, e: EventEnvelope) -> ProductEvent:
        d = e.data
        props: dict[str, object] = {"source": "aethex-live", "position": e.position}
        if e.type == "User.Registered":
            who = e.aggregate_id
        elif e.type == "Stream.Started":
            # The event names the channel; the person is the stream's owner.
            who = str(self.store.get(UUID(e.aggregate_id), Stream).owner_id)
            props.update(stream_id=e.aggregate_id, channel_id=d["channel_id"])
        elif e.type == "ChatMessage.Sent":
            who = d["author_id"]
            props.update(stream_id=d["stream_id"], channel_id=d["channel_id"])
        else:  # a follow
            who = d["follower_id"]
            props.update(target_kind=d["target_kind"], target_id=d["target_id"])
        return ProductEvent(event=PRODUCT_EVENTS[e.type], distinct_id=str(who),
                            timestamp=e.timestamp, uuid=e.id, properties=props)
