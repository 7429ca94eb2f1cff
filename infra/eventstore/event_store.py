"""The event store: the `eventsourcing` application over PostgreSQL or SQLite, behind the
small port the command handlers use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.catalogue import topics_for
from domain.errors import ConcurrentChange, NotFound
from infra.eventstore.envelope import EventEnvelope, decode_event
from infra.eventstore.pg_recorder import CopyingRecorder
from infra.observability import metrics, tracing

A = TypeVar("A", bound=Aggregate)


class AeThex(Application[UUID]):
    """All aggregates in one application, so the log has one total order."""

    name = "AeThex"
    # Defaults the given settings may override: stored events written and read by msgspec
    # in the library's own JSON format (so the library reads them with or without it).
    env = {"TRANSCODER_TOPIC": "infra.eventstore.transcoder:MsgspecTranscoder"}

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """`Application.save`, collecting our aggregates' events directly.

        The library tells aggregates from events with `isinstance` against runtime
        `Protocol`s, which on Python 3.11 costs ~8 µs each (a sixth of a group-commit
        batch's time); an `Aggregate` is known by its class. Anything else goes the
        library's way.

        It copies the body of the library's `save` (eventsourcing 9.5.6) and calls its
        private `_record`, `_take_snapshots` and `_notify`: a test pins that body and the
        version, so an upgrade that changes either fails until this is looked at again."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            elif obj is not None:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        if tracing.ON:  # where the events came from, stored with them
            tracing.stamp(processing_event.events)
        try:
            recordings = self._record(processing_event)
        except BaseException:
            # The events were taken from their aggregates above: a save that failed gives
            # them back, so that the same aggregates can be saved again (alone or with
            # others, as the chat batch's fallback does).
            for event in reversed(processing_event.events):
                aggregate = processing_event.aggregates.get(event.originator_id)
                if isinstance(aggregate, Aggregate):
                    aggregate.pending_events.insert(0, event)
            raise
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, as it does
        return recordings


class EventStore:
    """Loads and saves aggregates; reads the log as envelopes. Thread-safe."""

    def __init__(self, env: dict[str, str]) -> None:
        self.app = AeThex(env=env)
        self._listeners: list[Callable[[int], None]] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        self.app.close()

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Calls `listener(last_position)` after each save in this process."""
        with self._lock:
            self._listeners.append(listener)

    def get(self, aggregate_id: UUID, kind: type[A], *, what: str | None = None) -> A:
        try:
            aggregate = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{what or kind.__name__.lower()} {aggregate_id} not found")
        return aggregate

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        try:
            return self.get(aggregate_id, kind)
        except NotFound:
            return None

    def _record(self, aggregates: tuple[Aggregate, ...]) -> list[Recording[UUID]]:
        """Saves atomically. A save that fails leaves each aggregate's pending events as
        they were (`AeThex.save`), so the caller may save it again."""
        try:
            recordings = self.app.save(*aggregates)
        except IntegrityError as e:
            raise ConcurrentChange("the change conflicts with a concurrent change") from e
        metrics.EVENTS_APPENDED.inc(len(recordings))
        if recordings:
            last = recordings[-1].notification.id
            for listener in list(self._listeners):
                listener(last)
        return recordings

    def save(self, *aggregates: Aggregate) -> int:
        """Saves atomically; returns the position of the last event (0 if none)."""
        recordings = self._record(aggregates)
        return recordings[-1].notification.id if recordings else 0

    def save_positions(self, *aggregates: Aggregate) -> dict[UUID, int]:
        """Saves atomically; returns each aggregate's last event position."""
        return {r.domain_event.originator_id: r.notification.id
                for r in self._record(aggregates)}

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def read(
        self,
        after: int,
        limit: int,
        *,
        types: Sequence[str] = (),
        stop: int | None = None,
    ) -> tuple[list[EventEnvelope], int]:
        """Events after `after`, at most `limit`, optionally only of `types`.

        Returns the envelopes and the position scanned up to: with `stop`, a short page
        has scanned to the end of its window, which may lie beyond its last event (a
        filtered read, or a gap the sequence left).

        With `stop`, a page reads the window `(after, min(stop, after + limit)]`: asked
        for the whole range at once, PostgreSQL may (on statistics older than the rows,
        as after a bulk load) fetch and sort every row up to `stop` to return the first
        `limit`, for every page: a rebuild of a million events read the log hundreds of
        times over.
        """
        window = None if stop is None else min(stop, after + limit)
        topics = topics_for(types) if types else ()
        recorder = self.app.recorder
        if isinstance(recorder, CopyingRecorder):
            rows: list[Any] = recorder.select_rows(
                after, window if window is not None else _NO_END, limit, topics)
        else:
            rows = [(n.id, n.originator_id, n.originator_version, n.topic, n.state)
                    for n in recorder.select_notifications(
                        start=after + 1, limit=limit, stop=window, topics=topics)]
        mapper: Any = self.app.mapper
        out = [e for position, originator_id, version, topic, state in rows
               if (e := decode_event(topic, state, position, originator_id, version,
                                     mapper)) is not None]
        if window is not None and len(rows) < limit:
            return out, max(window, after)  # everything up to the window's end is scanned
        upto = rows[-1][0] if rows else after
        return out, upto


_NO_END = 2**63 - 1  # the largest position PostgreSQL's bigint holds
