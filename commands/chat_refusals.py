"""Refused chat sends: counted in memory where they happen (a dict increment, nothing on
the path of an accepted send), then recorded as `ChatRefusals.Counted` events a window at
a time by `RecordChatRefusals`."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.ports import Store
from domain.chat_refusals import ChatRefusals
from domain.stream import Stream

Key = tuple[UUID | None, str]


class RefusalTally:
    """This process's refused sends since the last `take`, by (stream, reason). Thread-safe:
    the chat writer thread and the event loop both note refusals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[Key] = Counter()
        self._since = datetime.now(UTC)

    def note(self, stream_id: UUID | None, reason: str) -> None:
        with self._lock:
            self._counts[(stream_id, reason)] += 1

    def take(self) -> tuple[dict[Key, int], datetime]:
        """The counts so far and when they began; the tally starts over."""
        now = datetime.now(UTC)
        with self._lock:
            counts, since = self._counts, self._since
            self._counts, self._since = Counter(), now
        return dict(counts), since

    def give_back(self, counts: dict[Key, int], since: datetime) -> None:
        """Counts a failed `RecordChatRefusals` did not store: they join the next window."""
        with self._lock:
            self._counts.update(counts)
            self._since = min(self._since, since)


class RecordChatRefusals(msgspec.Struct, frozen=True, kw_only=True):
    counts: dict[tuple[UUID | None, str], int]
    since: datetime
    node: str


def record_chat_refusals(cmd: RecordChatRefusals, store: Store) -> int:
    """One event per (stream, reason) with a count, all in one transaction; a send to a
    stream that does not exist is counted without one. Returns the last position (0 when
    there was nothing to record)."""
    channels: dict[UUID, UUID | None] = {}
    events: list[ChatRefusals] = []
    for (stream_id, reason), count in sorted(cmd.counts.items(),
                                             key=lambda kv: (str(kv[0][0]), kv[0][1])):
        if count <= 0:
            continue
        if stream_id is not None and stream_id not in channels:
            stream = store.find(stream_id, Stream)
            channels[stream_id] = stream.channel_id if stream is not None else None
        channel_id = channels.get(stream_id) if stream_id is not None else None
        if stream_id is not None and channel_id is None:
            stream_id = None  # no such stream: the id the client sent means nothing
        events.append(ChatRefusals.count_window(
            stream_id=stream_id, channel_id=channel_id, reason=reason, count=count,
            since=cmd.since, node=cmd.node))
    return store.save(*events) if events else 0
