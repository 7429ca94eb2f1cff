"""The event store: the `eventsourcing` application over PostgreSQL or SQLite, behind the
small port the command handlers use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification, Recording, StoredEvent

from commands.ports import Begun
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
    # in the library's own JSON format (so the library reads them with or without it), each
    # event class mapped by an encoder made for it once.
    env = {"TRANSCODER_TOPIC": "infra.eventstore.transcoder:MsgspecTranscoder",
           "MAPPER_TOPIC": "infra.eventstore.mapper:CompiledMapper"}

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """`Application.save`, collecting our aggregates' events directly.

        The library tells aggregates from events with `isinstance` against runtime
        `Protocol`s, which on Python 3.11 costs ~8 µs each (a sixth of a group-commit
        batch's time); an `Aggregate` is known by its class. Anything else goes the
        library's way.

        It follows the library's `save` (eventsourcing 9.5.6), with the library's
        `_record` step (its event store's `put`, then the aggregate cache) written out
        here, and calls its private `_take_snapshots` and `_notify`: a test pins that body
        and the version, so an upgrade that changes either fails until this is looked at
        again."""
        processing_event, _, taken = self._collect(objs, kwargs)
        stored, positions = self._start_put(processing_event, taken)()
        recordings = _recordings(processing_event.events, stored, positions)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, as it does
        return recordings

    def append(self, *aggregates: Aggregate) -> tuple[list[int], int]:
        """`save` for aggregates, returning the position of each one's last event (0 for
        one with none), in the order given, and how many events it stored. Without the
        library's `Recording` and `Notification` for every event (two frozen objects each,
        a tenth of a chat message's save), which nothing of ours reads. Their only reader,
        `_notify`, does nothing unless a subclass gives it something to do, and then it
        gets them."""
        return self.start_append(*aggregates)()

    def start_append(self, *aggregates: Aggregate) -> Begun[tuple[list[int], int]]:
        """`append` in two steps, where the recorder can (`start_insert_events`): this one
        maps the events and sends them, the function it returns waits for the database
        and gives what `append` gives. Either step that fails gives the aggregates their
        events back."""
        processing_event, counts, taken = self._collect(aggregates, {})
        finish_put = self._start_put(processing_event, taken)

        def finish() -> tuple[list[int], int]:
            stored, positions = finish_put()
            self._take_snapshots(processing_event)
            if type(self)._notify is not Application._notify:
                self._notify(_recordings(processing_event.events, stored, positions))
            self.notify(processing_event.events)
            last: list[int] = []
            seen = 0
            for n in counts:
                seen += n
                last.append(positions[seen - 1] if n else 0)
            return last, len(positions)
        return Begun(finish, ready=finish_put.ready)

    def _collect(self, objs: tuple[Any, ...], kwargs: dict[str, Any],
                 ) -> tuple[ProcessingEvent[UUID], list[int], list[tuple[Aggregate, list[Any]]]]:
        """The events to save, how many each object gave, and what was taken from which
        aggregate (so that a failed save can give it back). The aggregates are kept by
        id only where a step after the save reads them (the cache, snapshots)."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        events = processing_event.events
        counts: list[int] = []
        taken: list[tuple[Aggregate, list[Any]]] = []
        by_id = self.snapshots is not None or (
            self.repository.cache is not None and not self.repository.fastforward)
        for obj in objs:
            # `isinstance` against the library's ABC-based class costs a Python call per
            # object; the classes already seen are known by a set lookup.
            if type(obj) in _AGGREGATE_TYPES or isinstance(obj, Aggregate):
                _AGGREGATE_TYPES.add(type(obj))
                pending = obj.collect_events()
                events.extend(pending)
                counts.append(len(pending))
                taken.append((obj, pending))
                if by_id:
                    processing_event.aggregates[obj.id] = obj
            elif obj is not None:
                before = len(events)
                processing_event.collect_events(obj)
                counts.append(len(events) - before)
            else:
                counts.append(0)
        processing_event.saved_kwargs.update(kwargs)
        if tracing.ON:  # where the events came from, stored with them
            tracing.stamp(events)
        return processing_event, counts, taken

    def _start_put(self, processing_event: ProcessingEvent[UUID],
                   taken: list[tuple[Aggregate, list[Any]]],
                   ) -> Begun[tuple[list[StoredEvent], Sequence[int]]]:
        """The library's `_record` (the events mapped, inserted, the cache updated), the
        insert begun here and ended by the function returned."""
        events = processing_event.events

        def give_back() -> None:
            # The events were taken from their aggregates: a save that failed gives them
            # back, so that the same aggregates can be saved again (alone or with others,
            # as the chat batch's fallback does).
            for aggregate, pending in taken:
                aggregate.pending_events[:0] = pending

        try:
            stored = list(map(self.mapper.to_stored_event, events))
            start = getattr(self.recorder, "start_insert_events", None)
            inserted: Begun[Sequence[int]]
            if start is not None and processing_event.tracking is None \
                    and not processing_event.saved_kwargs:
                inserted = start(stored)
            else:
                inserted = Begun.done(self.recorder.insert_events(
                    stored, tracking=processing_event.tracking,
                    **processing_event.saved_kwargs) or [])
        except BaseException:
            give_back()
            raise

        def finish() -> tuple[list[StoredEvent], Sequence[int]]:
            try:
                positions = inserted()
            except BaseException:
                give_back()
                raise
            if len(positions) != len(events):
                raise AssertionError("the recorder returned a position for each event")
            if self.repository.cache and not self.repository.fastforward:
                for aggregate_id, aggregate in processing_event.aggregates.items():
                    self.repository.cache.put(aggregate_id, aggregate)
            return stored, positions
        return Begun(finish, ready=inserted.ready)


# Aggregate classes seen by `_collect` (a handful: one per kind of aggregate).
_AGGREGATE_TYPES: set[type] = set()


def _recordings(events: list[Any], stored: list[StoredEvent], positions: Sequence[int],
                ) -> list[Recording[UUID]]:
    """What the library's event store's `put` returns for the events it stored."""
    return [Recording(event, Notification(
                originator_id=s.originator_id, originator_version=s.originator_version,
                topic=s.topic, state=s.state, id=position))
            for event, s, position in zip(events, stored, positions, strict=True)]


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

    def start_save_each(self, *aggregates: Aggregate) -> Begun[list[int]]:
        """`save_each` in two steps: this one sends the events (on PostgreSQL a large
        batch is written but not yet taken by the server), the function it returns waits
        for the database, from any thread, and gives what `save_each` gives. Meanwhile
        the caller may do other work; nothing is stored until that function has
        returned."""
        try:
            finish = self.app.start_append(*aggregates)
        except IntegrityError as e:
            raise ConcurrentChange("the change conflicts with a concurrent change") from e

        def saved() -> list[int]:
            try:
                positions, appended = finish()
            except IntegrityError as e:
                raise ConcurrentChange("the change conflicts with a concurrent change") \
                    from e
            if appended:
                metrics.EVENTS_APPENDED.inc(appended)
                last = max(positions)
                for listener in list(self._listeners):
                    listener(last)
            return positions
        return Begun(saved, ready=finish.ready)

    def save(self, *aggregates: Aggregate) -> int:
        """Saves atomically; returns the position of the last event (0 if none)."""
        return max(self.save_each(*aggregates), default=0)

    def save_each(self, *aggregates: Aggregate) -> list[int]:
        """Saves atomically; returns each aggregate's last event position, in the order
        given (0 for one with nothing to save). A save that fails leaves each aggregate's
        pending events as they were (`AeThex.start_append`), so the caller may save it
        again."""
        return self.start_save_each(*aggregates)()

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
