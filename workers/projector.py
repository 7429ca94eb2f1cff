"""A projector: keeps one projection's read model current.

At start it binds its durable queue (so nothing published from then on is missed),
catches up from the event store itself, then consumes batches from the queue. Each
batch's rows and the new tracking position are written in one transaction, and events
at or below the tracking position are skipped, so redelivery changes nothing.

`run` is one supervised run (infra/runtime/supervisor.py): any failure, a consumer that broke
included, is recorded as the projection's `last_error` and raised, and the supervisor
runs it again after a backoff, with a new consumer on a new channel. The error is
cleared once a run has caught up again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import structlog

from infra.eventstore.envelope import EventEnvelope
from infra.eventstore.event_store import EventStore
from infra.messaging.bus import WATERMARK_KEY, Consumer, Delivery, EventBus
from infra.observability import metrics, tracing
from infra.readstore.database import Database
from infra.runtime.supervisor import working
from projections import tracking
from projections.base import Projection
from workers.rebuild import projection_lock

log = structlog.get_logger(__name__)


class ProjectorRunner:
    RESET_CHECK_S = 1.0
    # The relay marks every projector's queue within a fraction of a second whenever the log
    # moves: a consumer that hears nothing this long while the log is ahead of it has been
    # lost without a word (a broker that went away under it) and is made again. The log must
    # stay ahead for half that time: an event appended just before a look at the head is
    # not yet relayed, and a quiet projector would otherwise resubscribe for nothing.
    STARVED_S = 5.0

    def __init__(
        self,
        projection: Projection,
        store: EventStore,
        db: Database,
        bus: EventBus,
        *,
        batch_size: int = 2000,
        prefetch: int = 200,
        on_position: Callable[[str, int], None] | None = None,
    ) -> None:
        self.projection = projection
        self.store = store
        self.db = db
        self.bus = bus
        self.batch_size = batch_size
        self.prefetch = prefetch
        self.on_position = on_position
        self.position = 0
        self.last_error: str | None = None
        self.failures = 0

    @property
    def name(self) -> str:
        return self.projection.name

    @property
    def queue(self) -> str:
        return f"projector.{self.name}"

    def commit(self, events: Sequence[EventEnvelope], upto: int) -> None:
        """Applies the events past the stored position and moves it to `upto`, atomically.
        Not flushed synchronously: rows and tracking are lost together or not at all, and
        the store has the events to redo them."""
        with self.db.transaction(durable=False) as tx:
            projection_lock(tx, self.db, self.name)  # a rebuild's swap waits for us, we for it
            current = tracking.position(tx, self.name)
            if current < self.position:  # `aethex projections reset`: replay from the store
                self.position = current
                raise RuntimeError(f"{self.name} was reset to position {current}")
            if upto <= current:
                self.position = current
                return
            fresh = [e for e in events if e.position > current]
            if fresh:
                self.projection.apply(tx, fresh)
            tracking.set_position(tx, self.name, upto, datetime.now(UTC).isoformat())
        metrics.EVENTS_PROJECTED.labels(self.name).inc(len(fresh))
        self.position = upto
        if self.on_position is not None:
            self.on_position(self.name, upto)

    def _record_error(self, error: str) -> None:
        self.last_error = error
        with self.db.transaction() as tx:
            tracking.record_error(tx, self.name, error, datetime.now(UTC).isoformat())

    def _clear_error(self) -> None:
        with self.db.transaction() as tx:
            tracking.clear_error(tx, self.name)
        self.last_error = None

    async def _failed(self, error: BaseException) -> None:
        """Notes a failed run where operators look (`projections list`, /health/ready):
        in memory always, in the tracking row when the database answers."""
        self.failures += 1
        self.last_error = f"{type(error).__name__}: {error}"
        try:
            await asyncio.wait_for(asyncio.to_thread(self._record_error, self.last_error), 5)
        except Exception:  # the database may be what failed; the supervisor logs the cause
            log.warning("projector.error_not_recorded", projection=self.name, exc_info=True)

    async def catch_up(self) -> None:
        """Reads the log from the store up to its head, filtered to this projection's types."""
        self.position = await asyncio.to_thread(tracking.position, self.db, self.name)
        head = await asyncio.to_thread(self.store.head)

        def read(after: int) -> tuple[list[EventEnvelope], int]:
            return self.store.read(after, self.batch_size, types=self.projection.types, stop=head)

        # Reading (and decoding) the next page overlaps with writing the current one.
        page = asyncio.ensure_future(asyncio.to_thread(read, self.position)) \
            if self.position < head else None
        while page is not None:
            events, upto = await page
            page = asyncio.ensure_future(asyncio.to_thread(read, upto)) if upto < head else None
            try:
                if tracing.ON and events:  # read from the store: the events' own contexts
                    with tracing.spans(f"projector {self.name} catch-up", kind="consumer",
                                       parents=[e.trace for e in events]):
                        await asyncio.to_thread(self.commit, events, upto)
                else:
                    await asyncio.to_thread(self.commit, events, upto)
            except BaseException:
                if page is not None:
                    page.cancel()
                raise

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        upto = max(d.batch.upto for d in deliveries)
        if upto <= self.position:
            return
        events = [e for d in deliveries for e in d.batch.events if e.position > self.position]
        if tracing.ON and events:  # a span in each trace: under the relay's span in it
            relayed = [t for d in deliveries if d.batch.events for t in d.traces]
            with tracing.spans(f"projector {self.name}", kind="consumer",
                               parents=relayed or [e.trace for e in events],
                               attributes={"aethex.events": len(events), "aethex.upto": upto}):
                await asyncio.to_thread(self.commit, events, upto)
            return
        await asyncio.to_thread(self.commit, events, upto)

    async def run(self, stopping: asyncio.Event) -> None:
        """Consumes until `stopping` is set; raises on any failure (for the supervisor,
        which runs it again), after recording it as `last_error`."""
        while not stopping.is_set():
            consumer: Consumer | None = None
            try:
                consumer = await self.bus.consumer(
                    self.queue, [*self.projection.bindings, WATERMARK_KEY], self.prefetch)
                await self.catch_up()
                if self.last_error is not None:
                    await asyncio.to_thread(self._clear_error)
                    log.info("projector.recovered", projection=self.name,
                             position=self.position)
                log.info("projector.started", projection=self.name, position=self.position)
                working()  # connected and caught up: a later failure is a new one
                await self._consume(consumer, stopping)  # returns on stop or a reset
            except asyncio.CancelledError:
                raise
            except Exception as e:
                await self._failed(e)
                raise
            finally:
                if consumer is not None:
                    await consumer.close()

    async def _consume(self, consumer: Consumer, stopping: asyncio.Event) -> None:
        """Returns on stop, after a reset, or when the consumer went quiet while the log
        moved on (the caller then subscribes again and catches up from the store)."""
        checked = heard = time.monotonic()
        behind: tuple[float, int] | None = None  # when the log was first seen ahead, its head
        while not stopping.is_set():
            deliveries = await consumer.get_batch(self.prefetch, timeout=0.25)
            if not deliveries:
                # Idle: notice a reset (`aethex projections reset`) without waiting for
                # the next event, and replay the log from the store.
                now = time.monotonic()
                if now - checked >= self.RESET_CHECK_S:
                    checked = now
                    stored = await asyncio.to_thread(tracking.position, self.db, self.name)
                    if stored < self.position:
                        log.info("projector.reset_detected", projection=self.name)
                        self.position = stored
                        return
                    if now - heard >= self.STARVED_S / 2:
                        head = await asyncio.to_thread(self.store.head)
                        if head <= self.position:
                            behind = None
                        elif behind is None:
                            behind = (now, head)
                        elif now - behind[0] >= self.STARVED_S / 2 \
                                and self.position < behind[1]:
                            log.warning("projector.starved", projection=self.name,
                                        position=self.position, quiet_s=round(now - heard, 1))
                            return
                continue
            heard = time.monotonic()
            behind = None
            await self.handle(deliveries)
            await consumer.ack(deliveries)
