"""Exporting the event log as Parquet: one file per event type (`Stream.Started.parquet`),
the envelope's fields and the event's own as typed columns, so DuckDB, pandas or Spark
read it as tables (`select ... from 'export/ChatMessage.Sent.parquet'`).

Column types come from the event classes' annotations: ids are text (as in the JSON
export), times are UTC timestamps, lists of text are lists, anything else nested is its
JSON text. Secret fields are never in an envelope, so never here either. pyarrow is in
the `analytics` extra: imported when an export is written.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import NoneType, UnionType
from typing import Any
from uuid import UUID

import msgspec

from domain.catalogue import EVENT_CLASSES, SECRET_FIELDS
from infra.eventstore.envelope import EventEnvelope
from infra.eventstore.event_store import EventStore
from infra.eventstore.export import EventFilter, scan

_LIBRARY_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}
_json = msgspec.json.Encoder().encode


class ParquetUnavailable(RuntimeError):
    """pyarrow is not installed (the `analytics` extra)."""


def _pa() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet
    except ImportError:
        raise ParquetUnavailable(
            "a Parquet export needs pyarrow: install the analytics extra "
            "(pip install 'aethex-live[analytics]')") from None
    return pa


def _arrow_type(pa: Any, hint: Any) -> tuple[Any, str]:
    """The Arrow type of a field's annotation, and how values become it: 'as_is', 'time'
    (ISO text cast to a timestamp), or 'json' (nested values as their JSON text)."""
    args = [a for a in typing.get_args(hint) if a is not NoneType]
    if (typing.get_origin(hint) in (typing.Union, UnionType)) and len(args) == 1:
        hint = args[0]
    if hint in (str, UUID):
        return pa.string(), "as_is"
    if hint is bool:
        return pa.bool_(), "as_is"
    if hint is int:
        return pa.int64(), "as_is"
    if hint is float:
        return pa.float64(), "as_is"
    if hint is datetime:
        return pa.timestamp("us", tz="UTC"), "time"
    if typing.get_origin(hint) is list and typing.get_args(hint) in ((str,), (UUID,)):
        return pa.list_(pa.string()), "as_is"
    return pa.string(), "json"


def event_fields(type_name: str) -> list[tuple[str, Any]]:
    """An event type's own fields (not the library's, not secrets), with annotations."""
    cls = EVENT_CLASSES[type_name]
    hints = typing.get_type_hints(cls)
    return [(f.name, hints.get(f.name, str)) for f in dataclasses.fields(cls)
            if f.name not in _LIBRARY_FIELDS and f.name not in SECRET_FIELDS]


class _TypeWriter:
    """One event type's Parquet file, written a batch of events at a time."""

    def __init__(self, pa: Any, path: Path, type_name: str) -> None:
        self.pa = pa
        self.fields = [(name, *_arrow_type(pa, hint)) for name, hint in event_fields(type_name)]
        envelope = [("position", pa.int64()), ("id", pa.string()),
                    ("aggregate_id", pa.string()), ("aggregate_version", pa.int64()),
                    ("schema_version", pa.int64()), ("timestamp", pa.timestamp("us", tz="UTC")),
                    ("channel_id", pa.string())]
        names = {n for n, _ in envelope}
        # A field named like an envelope column (an event's own `channel_id`) is the same
        # value: the envelope's copy stands for both.
        self.fields = [f for f in self.fields if f[0] not in names]
        self.schema = pa.schema(envelope + [(name, t) for name, t, _ in self.fields])
        self.writer = pa.parquet.ParquetWriter(str(path), self.schema, compression="zstd")
        self.rows = 0

    def write(self, events: list[EventEnvelope]) -> None:
        pa = self.pa
        columns: list[Any] = [
            pa.array([e.position for e in events], pa.int64()),
            pa.array([e.id for e in events], pa.string()),
            pa.array([e.aggregate_id for e in events], pa.string()),
            pa.array([e.aggregate_version for e in events], pa.int64()),
            pa.array([e.schema_version for e in events], pa.int64()),
            pa.array([e.timestamp for e in events], pa.string()).cast(
                pa.timestamp("us", tz="UTC")),
            pa.array([e.channel_id for e in events], pa.string()),
        ]
        for name, arrow_type, how in self.fields:
            values = [e.data.get(name) for e in events]
            if how == "time":
                columns.append(pa.array(values, pa.string()).cast(arrow_type))
            elif how == "json":
                columns.append(pa.array([None if v is None else _json(v).decode()
                                         for v in values], pa.string()))
            else:
                columns.append(pa.array(values, arrow_type))
        self.writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))
        self.rows += len(events)

    def close(self) -> None:
        self.writer.close()


def export_parquet(store: EventStore, directory: Path, flt: EventFilter, *,
                   batch_size: int = 20000,
                   on_scanned: Callable[[int], None] | None = None) -> dict[str, int]:
    """Writes `<directory>/<type>.parquet` for every type with matching events; returns
    the rows written per type. Files of this export's types are replaced."""
    pa = _pa()
    directory.mkdir(parents=True, exist_ok=True)
    writers: dict[str, _TypeWriter] = {}
    try:
        for events in scan(store, flt, batch_size=batch_size, on_scanned=on_scanned):
            by_type: dict[str, list[EventEnvelope]] = {}
            for e in events:
                by_type.setdefault(e.type, []).append(e)
            for type_name, group in by_type.items():
                writer = writers.get(type_name)
                if writer is None:
                    writer = writers[type_name] = _TypeWriter(
                        pa, directory / f"{type_name}.parquet", type_name)
                writer.write(group)
    finally:
        for writer in writers.values():
            writer.close()
    return {t: w.rows for t, w in sorted(writers.items())}
