"""Live pushes: rooms of listeners per stream. Updates (from the node's live feed) are
handed to each listener in the room, as one shared `Outgoing` per frame; listeners write
it straight to their connection or queue it, bounded, so a slow client never stalls the
room. An `Outgoing` encodes itself once per transport, for every connection in the room."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from infra.messaging.bus import LiveUpdate
from infra.web.ws_direct import text_frame

_encode = msgspec.json.Encoder().encode


class Outgoing:
    """One event on its way to clients. Its JSON text is made once, on first use, and
    shared by every connection in the room; so are its WebSocket frames, plain and
    Socket.IO."""

    __slots__ = ("_frame", "_sio_frames", "_sio_text", "_text", "data", "event")

    def __init__(self, event: str, data: Any) -> None:
        self.event = event
        self.data = data
        self._text: str | None = None
        self._frame: bytes | None = None
        self._sio_text: str | None = None
        self._sio_frames: bytes | None = None

    @property
    def sio_text(self) -> str:
        """The Engine.IO message carrying the Socket.IO event: `42["event",data]`."""
        if self._sio_text is None:
            self._sio_text = "42" + _encode([self.event, self.data]).decode()
        return self._sio_text

    @property
    def sio_frames(self) -> bytes:
        """Socket.IO over WebSocket: one text frame per event (here, one), encoded once."""
        if self._sio_frames is None:
            self._sio_frames = text_frame(self.sio_text)
        return self._sio_frames

    @property
    def ws_frame(self) -> bytes:
        """The whole WebSocket text frame, encoded once for every connection in the room."""
        if self._frame is None:
            self._frame = text_frame(self.text)
        return self._frame

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _encode({"event": self.event, "data": self.data}).decode()
        return self._text

    @property
    def inner(self) -> str:
        """The text as members of a JSON array of frames."""
        return self.text


class Batch(Outgoing):
    """Several events that go out as one frame (a JSON array); built once per room."""

    __slots__ = ("_inner", "_lowest", "items")

    def __init__(self, items: list[Outgoing]) -> None:
        super().__init__("batch", None)
        self.items = items
        self._inner: str | None = None
        self._lowest: int | None = None

    @property
    def lowest_position(self) -> int:
        """The lowest log position among its chat messages (a very high one if none)."""
        if self._lowest is None:
            self._lowest = min((o.data["position"] for o in self.items
                                if o.event == "chat:message"), default=1 << 62)
        return self._lowest

    @property
    def inner(self) -> str:
        if self._inner is None:
            self._inner = ",".join(o.inner for o in self.items)
        return self._inner

    @property
    def text(self) -> str:
        return "[" + self.inner + "]"

    @property
    def sio_frames(self) -> bytes:
        """Socket.IO has no batches: each event is its own frame, all written at once."""
        if self._sio_frames is None:
            self._sio_frames = b"".join(o.sio_frames for o in self.items)
        return self._sio_frames


def frame_text(batch: Sequence[Outgoing]) -> str:
    """One WebSocket frame for what a connection has waiting."""
    if len(batch) == 1:
        return batch[0].text
    return "[" + ",".join(o.inner for o in batch) + "]"


def flatten(batch: Sequence[Outgoing]) -> list[Outgoing]:
    out: list[Outgoing] = []
    for o in batch:
        out.extend(o.items if isinstance(o, Batch) else [o])
    return out


def _one_frame(group: list[Outgoing]) -> Outgoing:
    """A room's events as what goes out in one frame: the event itself, or a `Batch`."""
    return group[0] if len(group) == 1 else Batch(group)


class Listener(Protocol):
    """A connection's side of a room: takes outgoing events without blocking."""

    def deliver(self, items: Sequence[Outgoing]) -> None: ...


class LiveHub:
    """Rooms by stream id. `dispatch` is the bus's live handler on this node.

    With a coalescing window, a room gets at most one frame per window: what reaches a
    room that has had none for a window goes out at once; what follows within the window
    waits for its end and goes to every listener as one `Batch`, built and encoded once
    for the whole room. A quiet room's first message pays no wait; a busy room's frames
    are paced as before.

    With `writes_per_s`, a room's window shrinks with its size: a frame costs one write per
    listener, so a room of n listeners is paced to n / writes_per_s seconds (never more
    than `coalesce_s`). A room of twenty gets each message almost at once; a room of a
    thousand, the whole window."""

    def __init__(self, coalesce_s: float = 0.0, writes_per_s: float | None = None) -> None:
        self.rooms: dict[str, set[Listener]] = defaultdict(set)
        self.coalesce_s = coalesce_s
        self.writes_per_s = writes_per_s
        self._pending: dict[str, list[Outgoing]] = {}
        self._sent_at: dict[str, float] = {}  # loop time of each room's last frame

    @property
    def connections(self) -> int:
        return sum(len(r) for r in self.rooms.values())

    def join(self, stream_id: str, listener: Listener) -> None:
        self.rooms[stream_id].add(listener)

    def leave(self, stream_id: str, listener: Listener) -> None:
        room = self.rooms.get(stream_id)
        if room is not None:
            room.discard(listener)
            if not room:
                del self.rooms[stream_id]
                self._sent_at.pop(stream_id, None)

    async def dispatch(self, updates: Sequence[LiveUpdate]) -> None:
        self.push(updates)

    def push(self, updates: Sequence[LiveUpdate]) -> None:
        """Hands updates to their rooms now (or at the end of the room's window)."""
        by_room: dict[str, list[Outgoing]] = {}
        for update in updates:
            if update.stream_id in self.rooms:
                by_room.setdefault(update.stream_id, []).append(
                    Outgoing(update.event, update.data))
        if not self.coalesce_s:
            for stream_id, group in by_room.items():
                self._deliver(stream_id, group)
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        for stream_id, group in by_room.items():
            pending = self._pending.get(stream_id)
            if pending is not None:  # a frame is already due at the window's end
                pending.extend(group)
                continue
            last = self._sent_at.get(stream_id)
            window = self.window(stream_id)
            if last is None or now - last >= window:
                self._sent_at[stream_id] = now
                self._deliver(stream_id, [_one_frame(group)])
            else:
                self._pending[stream_id] = list(group)
                loop.call_later(last + window - now, self._flush, stream_id)

    def window(self, stream_id: str) -> float:
        """The least time between two frames of this room."""
        if self.writes_per_s is None:
            return self.coalesce_s
        return min(self.coalesce_s, len(self.rooms.get(stream_id, ())) / self.writes_per_s)

    def _flush(self, stream_id: str) -> None:
        group = self._pending.pop(stream_id, None)
        if group:
            if stream_id in self.rooms:
                self._sent_at[stream_id] = asyncio.get_running_loop().time()
            self._deliver(stream_id, [_one_frame(group)])

    def _deliver(self, stream_id: str, group: list[Outgoing]) -> None:
        for listener in list(self.rooms.get(stream_id, ())):
            listener.deliver(group)
