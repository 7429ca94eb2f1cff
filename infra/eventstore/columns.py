"""Bulk reads of the log for analysis: a few fields of a few event types, as plain rows.

Reading the whole log through envelopes (`EventStore.read`) builds a dict of every field
of every event; an analysis needs three fields of a chat message. Here the stored rows of
the wanted types are read a batch at a time and each type's states are decoded in one
msgspec call into a struct of only the wanted fields. An event that way cannot read (an
older version to upcast, a cipher or compressor, JSON of another shape) goes through
`decode_event`, the log's one decoder, and gives the same row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from domain.catalogue import EVENT_CLASSES, TYPE_BY_TOPIC, topics_for
from infra.eventstore.envelope import _UUIDS, _Datetime, _Decimal, _Uuid, _uuid, decode_event
from infra.eventstore.event_store import EventStore

# A field name that asks for the event's aggregate id rather than a field of its data.
AGGREGATE_ID = "aggregate_id"

Row = tuple[Any, ...]
_Value = _Uuid | _Datetime | _Decimal | str | int | float | bool | None
_TAGGED_TEXT = (_Datetime, _Decimal)


class _Plan:
    """How one event type's wanted fields are decoded."""

    def __init__(self, type_name: str, fields: Sequence[str]) -> None:
        self.type_name = type_name
        self.fields = tuple(fields)
        self.data_fields = tuple(f for f in fields if f != AGGREGATE_ID)
        self.version = getattr(EVENT_CLASSES[type_name], "class_version", 1)
        struct = msgspec.defstruct(
            f"_{type_name.replace('.', '_')}_Columns",
            [("timestamp", _Datetime), ("class_version", int, 1),
             *((f, _Value, None) for f in self.data_fields)],
            gc=False)
        self.decode_many = msgspec.json.Decoder(list[struct]).decode

    def rows(self, notifications: list[Any], mapper: Any) -> list[Row]:
        """One row per notification: (timestamp, the wanted fields in order)."""
        decoded: list[Any] | None = None
        if mapper.cipher is None and mapper.compressor is None:
            try:
                states = b",".join([n.state for n in notifications])
            except TypeError:  # a driver that hands out memoryviews
                states = b",".join([bytes(n.state) for n in notifications])
            try:
                decoded = self.decode_many(b"[" + states + b"]")
            except (msgspec.ValidationError, msgspec.DecodeError):
                decoded = None  # one odd event in the batch: each is read on its own
        if decoded is None:
            return [self._via_envelope(n, mapper) for n in notifications]
        # Column by column: a comprehension per field costs less than a loop per row.
        columns: list[list[Any]] = [[item.timestamp.data for item in decoded]]
        for name in self.fields:
            if name == AGGREGATE_ID:
                columns.append([str(n.originator_id) for n in notifications])
                continue
            raw = [getattr(item, name) for item in decoded]
            columns.append([
                (_UUIDS.get(v.data) or _uuid(v.data)) if type(v) is _Uuid
                else v.data if type(v) in _TAGGED_TEXT else v for v in raw])
        out = list(zip(*columns, strict=True))
        version = self.version
        for i, item in enumerate(decoded):
            if item.class_version != version:  # older: upcast by the one decoder
                out[i] = self._via_envelope(notifications[i], mapper)
        return out

    def _via_envelope(self, n: Any, mapper: Any) -> Row:
        e = decode_event(n.topic, bytes(n.state), n.id, n.originator_id,
                         n.originator_version, mapper)
        assert e is not None  # the topic is catalogued: it was asked for by type
        return (e.timestamp, *(e.aggregate_id if f == AGGREGATE_ID else e.data.get(f)
                               for f in self.fields))


def read_columns(store: EventStore, wanted: Mapping[str, Sequence[str]], *,
                 upto: int | None = None, contains: bytes | None = None,
                 sinks: Mapping[str, Callable[[list[Row]], None]] | None = None,
                 batch_size: int = 20000,
                 on_scanned: Callable[[int], None] | None = None) -> dict[str, list[Row]]:
    """For each wanted event type, a row per event in log order: `(timestamp, *fields)`,
    the timestamp as stored (ISO 8601, UTC) and each field as an envelope holds it (ids
    as text). `AGGREGATE_ID` among the fields is the event's aggregate id.

    `contains`: only events whose stored JSON holds these bytes (a channel id's hex, so
    one channel's events are read without decoding everyone else's).
    `sinks`: types whose rows go to a function a batch at a time instead of into the
    answer (a type with millions of events, folded as it is read rather than kept).
    """
    plans = {t: _Plan(t, fields) for t, fields in wanted.items()}
    topics = topics_for(list(plans))
    out: dict[str, list[Row]] = {t: [] for t in plans}
    mapper: Any = store.app.mapper
    recorder = store.app.recorder
    head = store.head()
    stop = head if upto is None else min(upto, head)
    position = 0
    while position < stop:
        notifications = recorder.select_notifications(
            start=position + 1, limit=batch_size, stop=stop, topics=topics)
        if not notifications:
            break
        by_type: dict[str, list[Any]] = {}
        for n in notifications:
            if contains is not None and contains not in n.state:
                continue
            by_type.setdefault(TYPE_BY_TOPIC[n.topic], []).append(n)
        for type_name, group in by_type.items():
            rows = plans[type_name].rows(group, mapper)
            sink = sinks.get(type_name) if sinks else None
            if sink is not None:
                sink(rows)
            else:
                out[type_name].extend(rows)
        position = notifications[-1].id
        if on_scanned is not None:
            on_scanned(position)
        if len(notifications) < batch_size:
            break
    return out


def read_raw(store: EventStore, *, batch_size: int = 20000) -> int:
    """Reads every stored event of the log and decodes none: the cost of reading the log
    itself, the baseline analyses are measured against. Returns the count."""
    recorder = store.app.recorder
    stop = store.head()
    position, count = 0, 0
    while position < stop:
        notifications = recorder.select_notifications(start=position + 1, limit=batch_size,
                                                      stop=stop)
        if not notifications:
            break
        count += len(notifications)
        position = notifications[-1].id
    return count
