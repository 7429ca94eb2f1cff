"""Live pushes: the hub that fans projected updates out to WebSocket subscribers of a
stream, each behind a bounded queue so a slow client never stalls the room."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Sequence

import msgspec

from infra.bus import LiveUpdate

_encode = msgspec.json.Encoder().encode


class Subscriber:
    """One connection's outgoing frames."""

    def __init__(self, stream_id: str, max_queue: int) -> None:
        self.stream_id = stream_id
        self.frames: asyncio.Queue[bytes | None] = asyncio.Queue(max_queue)
        self.overflowed = False

    def offer(self, frame: bytes) -> None:
        if self.overflowed:
            return
        try:
            self.frames.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True  # the sender loop closes this connection
            with contextlib.suppress(asyncio.QueueEmpty):
                self.frames.get_nowait()
            self.frames.put_nowait(None)


class LiveHub:
    """Rooms by stream id. `dispatch` is the bus's live handler."""

    def __init__(self, *, max_queue: int = 1000) -> None:
        self.max_queue = max_queue
        self.rooms: dict[str, set[Subscriber]] = defaultdict(set)

    @property
    def connections(self) -> int:
        return sum(len(r) for r in self.rooms.values())

    def subscribe(self, stream_id: str) -> Subscriber:
        sub = Subscriber(stream_id, self.max_queue)
        self.rooms[stream_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        room = self.rooms.get(sub.stream_id)
        if room is not None:
            room.discard(sub)
            if not room:
                del self.rooms[sub.stream_id]

    async def dispatch(self, updates: Sequence[LiveUpdate]) -> None:
        for update in updates:
            room = self.rooms.get(update.stream_id)
            if not room:
                continue
            frame = _encode({"event": update.event, "data": update.data})
            for sub in list(room):
                sub.offer(frame)
