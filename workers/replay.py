"""Replaying the log: importing an export into an (empty) event store, and building read
models as of a moment into a separate PostgreSQL schema or SQLite file (time travel)."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import psycopg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.catalogue import AGGREGATES, EVENT_CLASSES, FORMER_TYPES, SECRET_FIELDS
from infra.eventstore.envelope import EventEnvelope
from infra.eventstore.event_store import EventStore
from infra.observability.tracing import TRACE_KEY
from infra.readstore.bulk_tx import bulk
from infra.readstore.database import Database, PostgresDatabase, SqliteDatabase
from infra.settings import Settings
from projections import tracking
from projections.base import Projection, migrate

_decode_envelope = msgspec.json.Decoder(EventEnvelope).decode


class ReplayError(ValueError):
    """The import or replay cannot go ahead (and nothing was written)."""


# --- importing an export -------------------------------------------------------------

def _convert(value: Any, hint: Any) -> Any:
    """A JSON value back into what the event class holds (UUIDs, datetimes)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is not type(None):
                return _convert(value, arg)
    if origin in (list, tuple, set, frozenset):
        (inner, *_) = typing.get_args(hint) or (Any,)
        return [_convert(v, inner) for v in value]
    if hint is UUID:
        return UUID(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _aggregate_of(type_name: str) -> type[Aggregate]:
    owner = type_name.split(".", 1)[0]
    for aggregate in AGGREGATES:
        if aggregate.__qualname__ == owner:
            return aggregate
    raise ReplayError(f"no aggregate for event type {type_name}")


def _current(envelope: EventEnvelope) -> tuple[type, dict[str, Any]]:
    """The event class an exported event is today, and its data at that class's version:
    an export written by older code may name a type since merged into another, or hold an
    older version, upcast here as the store upcasts what it loads."""
    type_name, version = envelope.type, envelope.schema_version
    data = dict(envelope.data)
    if type_name in FORMER_TYPES:
        type_name, version = FORMER_TYPES[type_name]
    cls = EVENT_CLASSES.get(type_name)
    if cls is None:
        raise ReplayError(f"position {envelope.position}: unknown event type {envelope.type}")
    target = getattr(cls, "class_version", 1)
    if version < target:
        data["timestamp"] = envelope.timestamp  # some upcasters date what they add by it
        for v in range(version, target):
            getattr(cls, f"upcast_v{v}_v{v + 1}")(data)
        data.pop("timestamp", None)
    elif version > target:
        raise ReplayError(f"position {envelope.position}: {envelope.type} v{version} is newer "
                          f"than this code's v{target}")
    return cls, data


def to_stored_event(envelope: EventEnvelope, store: EventStore) -> StoredEvent:
    """The stored form of an exported event. Secrets were never exported: they come back
    as None (stream keys must be rotated, passwords reset, after an import)."""
    cls, data = _current(envelope)
    hints = _hints(cls)
    state: dict[str, Any] = {
        name: _convert(value, hints.get(name, Any)) for name, value in data.items()}
    for name in SECRET_FIELDS & hints.keys():
        state.setdefault(name, None)
    state["originator_id"] = UUID(envelope.aggregate_id)
    state["originator_version"] = envelope.aggregate_version
    state["timestamp"] = datetime.fromisoformat(envelope.timestamp)
    if issubclass(cls, Aggregate.Created):
        state["originator_topic"] = get_topic(_aggregate_of(cls.__qualname__))
    if envelope.trace is not None:  # where it came from travels with it
        state[TRACE_KEY] = envelope.trace
    event = object.__new__(cls)
    object.__setattr__(event, "__dict__", state)
    return store.app.mapper.to_stored_event(event)  # type: ignore[arg-type]


def _insert_at_positions(store: EventStore, rows: list[tuple[int, StoredEvent]]) -> None:
    """Appends stored events at the exported positions, so positions (which read models
    keep, and clients pass back as `?after=`) mean the same in the copy."""
    recorder: Any = store.app.recorder
    table = recorder.events_table_name
    if hasattr(recorder.datastore, "schema"):  # PostgreSQL
        schema = recorder.datastore.schema
        qualified = psycopg.sql.SQL("{}.{}").format(
            psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table))
        with recorder.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as cur:
            # The same lock the recorder takes, so tailing readers never skip a gap.
            cur.execute(psycopg.sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(qualified))
            cur.executemany(
                psycopg.sql.SQL("INSERT INTO {} (notification_id, originator_id, "
                                "originator_version, topic, state) VALUES (%s, %s, %s, %s, %s)"
                                ).format(qualified),
                [(p, s.originator_id, s.originator_version, s.topic, s.state) for p, s in rows])
            cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
                        (f'"{schema}"."{table}"', rows[-1][0]))
        return
    with recorder.datastore.transaction(commit=True) as cur:
        cur.executemany(
            f"INSERT INTO {table} (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)",
            [(p, s.originator_id.hex, s.originator_version, s.topic, s.state) for p, s in rows])


def import_events(store: EventStore, lines: Iterable[bytes], *, batch_size: int = 2000,
                  on_imported: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Appends exported events (JSON Lines) to the store at their original positions.

    Positions must increase and lie past the store's head: importing into an empty store,
    or continuing an interrupted import, is allowed; anything that would rewrite history is
    refused. Returns (events imported, last position).
    """
    head = store.head()
    count, last = 0, head
    batch: list[tuple[int, StoredEvent]] = []

    def flush() -> None:
        nonlocal count
        if batch:
            _insert_at_positions(store, batch)
            count += len(batch)
            if on_imported is not None:
                on_imported(batch[-1][0])
            batch.clear()

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            envelope = _decode_envelope(line)
        except msgspec.DecodeError as e:
            raise ReplayError(f"line {number}: not an exported event: {e}") from None
        if envelope.position <= last:
            raise ReplayError(f"line {number}: position {envelope.position} is not past "
                              f"{last} (the store's head or the previous line)")
        batch.append((envelope.position, to_stored_event(envelope, store)))
        last = envelope.position
        if len(batch) >= batch_size:
            flush()
    flush()
    return count, last


# --- read models as of a moment -------------------------------------------------------

def is_file_target(into: str) -> bool:
    """`--into` names a SQLite file when it looks like a path, else a PostgreSQL schema."""
    return "/" in into or into.endswith((".sqlite", ".sqlite3", ".db")) or into == ":memory:"


def open_target(settings: Settings, into: str, *, replace: bool = False) -> Database:
    """A separate database for replayed read models; never the live one."""
    if is_file_target(into):
        path = Path(into).resolve()
        if path == (settings.var / "read.sqlite").resolve():
            raise ReplayError("refusing to replay into the live read models")
        if replace and path.exists():
            path.unlink()
        return SqliteDatabase(path)
    if not settings.database_url:
        raise ReplayError("a PostgreSQL schema needs AETHEX_DATABASE_URL; "
                          "give a file path for a SQLite target")
    if into == settings.namespace:
        raise ReplayError("refusing to replay into the live namespace")
    if not into.replace("_", "").isalnum() or len(into) > 63:
        raise ReplayError(f"not a plain schema name: {into!r}")
    if replace:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                psycopg.sql.Identifier(into)))
    return PostgresDatabase(settings.database_url, into, max_size=2)


def project_into(store: EventStore, db: Database, projections: Sequence[Projection], *,
                 until: datetime | None = None, upto: int | None = None,
                 batch_size: int = 5000,
                 on_scanned: Callable[[int], None] | None = None) -> int:
    """Builds `projections` in `db` from the log: every event up to position `upto` (the
    head by default) whose timestamp is at or before `until`. Resumes from the target's
    tracking positions. Returns the position reached."""
    migrate(db, projections)
    wanted = tuple(sorted({t for p in projections for t in p.types}))
    start = min(tracking.position(db, p.name) for p in projections)
    stop = store.head() if upto is None else min(upto, store.head())
    position = start
    while position < stop:
        events, scanned = store.read(position, batch_size, types=wanted, stop=stop)
        if until is not None:
            events = [e for e in events if datetime.fromisoformat(e.timestamp) <= until]
        with db.transaction() as tx:
            for p in projections:
                done = tracking.position(tx, p.name)
                mine = [e for e in events if e.position > done and e.type in p.types]
                if mine:
                    p.apply(bulk(tx, db), mine)
                if scanned > done:
                    tracking.set_position(tx, p.name, scanned,
                                          datetime.now().astimezone().isoformat())
        if on_scanned is not None:
            on_scanned(scanned)
        if scanned <= position:
            break
        position = scanned
    return position
