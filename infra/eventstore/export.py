"""Exporting the event log: filters, JSON Lines out, resuming, and counts by type and day.

One line per event is the envelope (position, id, aggregate id and version, type, schema
version, timestamp, channel id, data). Secret fields never reach the envelope, so they
never reach an export either.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import msgspec

from domain.catalogue import EVENT_CLASSES
from infra.eventstore.envelope import EventEnvelope
from infra.eventstore.event_store import EventStore

_encode = msgspec.json.Encoder().encode


def parse_time(value: str) -> datetime:
    """An ISO 8601 date or timestamp; without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def expand_types(names: list[str]) -> tuple[str, ...]:
    """Catalogued type names; `Stream` or `Stream.*` stands for every Stream event."""
    out: list[str] = []
    for name in names:
        prefix = name.removesuffix(".*")
        matches = [t for t in EVENT_CLASSES if t == prefix or t.startswith(prefix + ".")]
        if not matches:
            raise ValueError(f"unknown event type {name!r}; see docs/events.md")
        out.extend(m for m in matches if m not in out)
    return tuple(out)


@dataclass(frozen=True)
class EventFilter:
    """Which events to read: positions `after` < p <= `upto`, then the other filters."""

    types: tuple[str, ...] = ()
    aggregate: str | None = None
    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: int = 0
    upto: int | None = None

    def keeps(self, e: EventEnvelope) -> bool:
        if self.aggregate is not None and e.aggregate_id != self.aggregate:
            return False
        if self.channel is not None and e.channel_id != self.channel:
            return False
        if self.since is not None or self.until is not None:
            moment = datetime.fromisoformat(e.timestamp)
            if self.since is not None and moment < self.since:
                return False
            if self.until is not None and moment > self.until:
                return False
        return True


def scan(store: EventStore, flt: EventFilter, *, batch_size: int = 5000,
         on_scanned: Callable[[int], None] | None = None) -> Iterator[list[EventEnvelope]]:
    """Batches of matching events in log order. `on_scanned(position)` reports how far the
    scan got (past events the filters dropped too), for progress bars."""
    head = store.head()
    stop = head if flt.upto is None else min(flt.upto, head)
    position = flt.after
    while position < stop:
        events, upto = store.read(position, batch_size, types=flt.types, stop=stop)
        kept = [e for e in events if flt.keeps(e)]
        if kept:
            yield kept
        if on_scanned is not None:
            on_scanned(upto)
        if upto <= position:
            break
        position = upto


def last_exported_position(path: Path) -> int | None:
    """The position on the last complete line of an export file (None when it has none).

    A line cut short by an interrupted export is dropped from the file, so appending after
    it leaves valid JSON Lines.
    """
    if not path.exists():
        return None
    with path.open("rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        chunk = min(size, 1 << 16)
        while True:
            f.seek(size - chunk)
            tail = f.read(chunk)
            end = tail.rfind(b"\n")
            if end == -1 and chunk < size:
                chunk = min(size, chunk * 4)
                continue
            break
        if end != len(tail) - 1:  # an unfinished last line: cut it off
            f.truncate(size - chunk + end + 1 if end != -1 else 0)
            if end == -1:
                return None
        start = tail.rfind(b"\n", 0, end) + 1
        line = tail[start:end]
    if not line.strip():
        return None
    return int(msgspec.json.decode(line)["position"])


def write_jsonl(out: BinaryIO, events: list[EventEnvelope]) -> None:
    out.write(b"".join(_encode(e) + b"\n" for e in events))


def export(store: EventStore, out: BinaryIO, flt: EventFilter, *, batch_size: int = 5000,
           on_scanned: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Writes matching events as JSON Lines; returns (events written, last position)."""
    written, last = 0, flt.after
    for events in scan(store, flt, batch_size=batch_size, on_scanned=on_scanned):
        write_jsonl(out, events)
        written += len(events)
        last = events[-1].position
    out.flush()
    return written, last


def stats(store: EventStore, flt: EventFilter, *, batch_size: int = 5000,
          on_scanned: Callable[[int], None] | None = None) -> dict[tuple[str, str], int]:
    """Event counts by (type, UTC day)."""
    counts: Counter[tuple[str, str]] = Counter()
    for events in scan(store, flt, batch_size=batch_size, on_scanned=on_scanned):
        counts.update((e.type, e.timestamp[:10]) for e in events)
    return dict(sorted(counts.items()))
