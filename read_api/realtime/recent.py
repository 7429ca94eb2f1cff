"""What this node has pushed lately: the ids it has delivered, and each room's last messages.

A message reaches a room as soon as it is committed, before the `chat_history` read model
has it. A viewer who joins in between would find it neither in the history (not projected
yet) nor live (pushed before they joined): each room's recent messages are kept for a
while, on every node, and a join's history is the read model's merged with them.
Deletions are kept the same way: a message deleted a moment ago may still be in the read
model, but not in a join's history.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any


class SeenIds:
    """A bounded set of the message ids this node has delivered: the copy of a message that
    arrives by a second path (another node's live copy, the relayed event) is dropped."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: set[str] = set()
        self._order: deque[str] = deque()

    def first_time(self, message_id: str) -> bool:
        """True the first time an id is offered; False for every later copy."""
        if message_id in self._ids:
            return False
        self._ids.add(message_id)
        self._order.append(message_id)
        if len(self._order) > self.capacity:
            self._ids.discard(self._order.popleft())
        return True

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)


class RecentMessages:
    """Each room's newest messages (at most `per_room`), kept for `keep_s` seconds: longer
    than the read model takes to catch up, short enough that memory stays small."""

    def __init__(self, per_room: int = 500, keep_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_room = per_room
        self.keep_s = keep_s
        self._clock = clock
        self._rooms: dict[str, OrderedDict[str, tuple[float, dict[str, Any]]]] = {}
        self._deleted: OrderedDict[str, float] = OrderedDict()  # message id -> when

    def add(self, stream_id: str, message: dict[str, Any]) -> None:
        room = self._rooms.get(stream_id)
        if room is None:
            room = self._rooms[stream_id] = OrderedDict()
        room[message["id"]] = (self._clock(), message)
        if len(room) > self.per_room:
            room.popitem(last=False)

    def remove(self, stream_id: str, message_id: str) -> None:
        """A deleted message: out of the room's list, and left out of joins for a while."""
        room = self._rooms.get(stream_id)
        if room is not None:
            room.pop(message_id, None)
        self._deleted[message_id] = self._clock()
        self._deleted.move_to_end(message_id)

    def deleted(self) -> set[str]:
        """Ids of messages deleted within `keep_s`."""
        horizon = self._clock() - self.keep_s
        while self._deleted and next(iter(self._deleted.values())) < horizon:
            self._deleted.popitem(last=False)
        return set(self._deleted)

    def snapshot(self, stream_id: str) -> list[dict[str, Any]]:
        """The room's recent messages, oldest first (after dropping expired ones)."""
        room = self._rooms.get(stream_id)
        if room is None:
            return []
        horizon = self._clock() - self.keep_s
        while room:
            first = next(iter(room.values()))
            if first[0] >= horizon:
                break
            room.popitem(last=False)
        if not room:
            del self._rooms[stream_id]
            return []
        return [m for _, m in room.values()]

    def prune(self) -> None:
        """Drops expired messages of every room (rooms that went quiet included)."""
        for stream_id in list(self._rooms):
            self.snapshot(stream_id)
        self.deleted()

    @property
    def rooms(self) -> int:
        return len(self._rooms)


def merge_history(stored: list[dict[str, Any]], recent: list[dict[str, Any]],
                  after: int | None, size: int,
                  deleted: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """A join's `chat:history`, oldest first: the read model's answer merged by id with the
    room's recent messages, less those just deleted; the newest `size`, or, resuming after
    the message at position `after`, everything after it up to 10 x size (as the read model
    would answer once it has caught up)."""
    by_id = {m["id"]: m for m in stored}
    for m in recent:
        by_id.setdefault(m["id"], m)
    merged = sorted((m for i, m in by_id.items() if i not in deleted),
                    key=lambda m: m["position"])
    if after is not None:
        return [m for m in merged if m["position"] > after][: size * 10]
    return merged[-size:]


def newest_page(stored: list[dict[str, Any]], more: bool, recent: list[dict[str, Any]],
                limit: int, deleted: set[str] | frozenset[str] = frozenset()
                ) -> tuple[list[dict[str, Any]], int | None]:
    """The HTTP history's first page, newest first: the read model's page (`stored`, newest
    first, `more` if older ones exist) merged with the room's recent messages, so a message
    a viewer was pushed is in the history from then on; with the cursor to the next page."""
    merged = merge_history(list(reversed(stored)), recent, None, limit + 1, deleted)
    page = merged[-limit:][::-1]
    more = more or len(merged) > limit
    return page, (page[-1]["position"] if more and page else None)
