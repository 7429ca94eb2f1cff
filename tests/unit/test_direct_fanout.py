"""A chat session's direct path: frames go straight to the connection only while nothing
is queued or being sent, so the order on the wire is always the order pushed."""

from __future__ import annotations

from websockets.frames import Frame, Opcode

from read_api.chat_gateway import ChatSession
from read_api.live import Batch, Outgoing


class Wire:
    """A writer standing in for the transport: records frames; `open` says whether the
    connection takes them now (False: paused for back-pressure)."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.open = True

    def write(self, frame: bytes) -> bool:
        if not self.open:
            return False
        self.frames.append(frame)
        return True


def decode(frame: bytes) -> str:
    """The text of one unmasked text frame (the shape a server sends)."""
    assert frame[0] == 0x81  # FIN + text
    length = frame[1] & 0x7F
    offset = 2
    if length == 126:
        length, offset = int.from_bytes(frame[2:4], "big"), 4
    elif length == 127:
        length, offset = int.from_bytes(frame[2:10], "big"), 10
    assert len(frame) == offset + length
    return frame[offset:].decode()


def session_with(wire: Wire, max_queue: int = 10) -> ChatSession:
    session = ChatSession(None, max_queue=max_queue)
    session.direct = wire
    return session


def test_frames_go_straight_out_while_nothing_waits() -> None:
    wire = Wire()
    session = session_with(wire)
    session.emit("pong", None)
    session.deliver([Outgoing("chat:typing", {"userId": "u"})])
    assert [decode(f) for f in wire.frames] == [
        '{"event":"pong","data":null}', '{"event":"chat:typing","data":{"userId":"u"}}']
    assert not session.frames


def test_a_room_frame_is_encoded_once_for_every_connection() -> None:
    wires = [Wire() for _ in range(3)]
    sessions = [session_with(w) for w in wires]
    batch = Batch([Outgoing("chat:message", {"id": "1", "user": {"id": "a"}}),
                   Outgoing("chat:deleted", {"messageId": "0"})])
    for s in sessions:
        s.deliver([batch])
    assert wires[0].frames[0] is wires[1].frames[0] is wires[2].frames[0]
    assert decode(wires[0].frames[0]).startswith('[{"event":"chat:message"')
    # the bytes are a valid frame for any WebSocket parser
    assert Frame(Opcode.TEXT, batch.text.encode()).serialize(mask=False) == wires[0].frames[0]


async def test_once_something_is_queued_later_frames_queue_behind_it() -> None:
    wire = Wire()
    session = session_with(wire)
    wire.open = False  # the transport paused: back-pressure
    session.emit("a", 1)
    wire.open = True  # it drained, but "a" is still queued: "b" must not overtake it
    session.emit("b", 2)
    assert wire.frames == []
    batch = await session.next_batch()
    assert [o.event for o in batch or []] == ["a", "b"]
    assert session.sending
    session.emit("c", 3)  # the pump is still sending a and b
    assert wire.frames == []
    session.sent()
    assert [o.event for o in await session.next_batch() or []] == ["c"]
    session.sent()
    session.emit("d", 4)  # nothing waits any more: straight out again
    assert [decode(f) for f in wire.frames] == ['{"event":"d","data":4}']


async def test_a_paused_connection_that_falls_behind_is_dropped() -> None:
    wire = Wire()
    wire.open = False
    session = session_with(wire, max_queue=3)
    for i in range(4):
        session.emit("chat:message", {"n": i})
    assert session.overflowed and session.dropped.is_set()
    assert await session.next_batch() is None


def test_ignored_users_are_filtered_before_the_direct_write() -> None:
    wire = Wire()
    session = session_with(wire)
    session.ignored = {"troll"}
    shared = Batch([Outgoing("chat:message", {"id": "1", "user": {"id": "troll"}}),
                    Outgoing("chat:message", {"id": "2", "user": {"id": "friend"}})])
    session.deliver([shared])
    assert [decode(f) for f in wire.frames] == [
        '[{"event":"chat:message","data":{"id":"2","user":{"id":"friend"}}}]']


def message(id: str, position: int) -> Outgoing:
    return Outgoing("chat:message", {"id": id, "position": position})


def test_what_the_history_held_is_not_sent_again_whatever_order_it_arrives_in() -> None:
    """Copies from several nodes need not come in position order: a message of the
    history is dropped even after a newer one came; a newer room frame stays shared."""
    wire = Wire()
    session = session_with(wire)
    session.hold()
    session.deliver([message("b", 2)])  # held while the history is read
    session.release([{"id": "a", "position": 1}, {"id": "b", "position": 2}])
    session.deliver([message("c", 3)])
    session.deliver([message("a", 1)])  # a late copy of a history message
    newer = Batch([message("d", 4), message("e", 5)])
    session.deliver([newer])
    mixed = Batch([message("b", 2), message("f", 6)])
    session.deliver([mixed])
    texts = [decode(f) for f in wire.frames]
    assert texts == [message("c", 3).text, newer.text, message("f", 6).text]
    assert wire.frames[1] is newer.ws_frame  # the room's own bytes, not re-encoded
