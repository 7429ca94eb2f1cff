"""The node's live feed: a message that reaches the node by several paths (its own commit,
another node's live copy, the relayed event) is delivered once, in the order it first
arrived; rooms keep their recent messages for joins; a join's history merges them with
the read model by id."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

from commands.send_message import MessageSent
from domain.chat import ChatMessage
from infra.eventstore.envelope import EventBatch, EventEnvelope
from infra.messaging.bus import InProcessBus, LiveUpdate
from read_api.realtime.feed import LiveFeed
from read_api.realtime.presenters import committed_updates, event_view, sent_view
from read_api.realtime.recent import RecentMessages, SeenIds, merge_history, newest_page

STREAM, CHANNEL, AUTHOR = str(uuid4()), str(uuid4()), str(uuid4())


def sent(position: int, content: str = "hi") -> MessageSent:
    message = ChatMessage(stream_id=UUID(STREAM), channel_id=UUID(CHANNEL),
                          author_id=UUID(AUTHOR), username="ann", display_name="Ann",
                          badges=["moderator"], content=content)
    return MessageSent(message=message, position=position)


def relayed(result: MessageSent) -> EventEnvelope:
    """The `ChatMessage.Sent` event of a committed message, as the relay carries it."""
    m = result.message
    return EventEnvelope(
        position=result.position, id=f"{m.id}:1", aggregate_id=str(m.id), aggregate_version=1,
        type="ChatMessage.Sent", schema_version=1, timestamp=m.created_on.isoformat(),
        channel_id=str(m.channel_id),
        data={"stream_id": str(m.stream_id), "channel_id": str(m.channel_id),
              "author_id": str(m.author_id), "username": m.username,
              "display_name": m.display_name, "badges": list(m.badges), "content": m.content})


class Rooms:
    def __init__(self) -> None:
        self.heard: list[LiveUpdate] = []

    def deliver(self, updates: Sequence[LiveUpdate]) -> None:
        self.heard.extend(updates)


def feed_for(rooms: Rooms, bus: InProcessBus | None = None) -> LiveFeed:
    async def read_stream(stream_id: str) -> None:
        return None

    async def wait(position: int) -> None:
        return None

    return LiveFeed(bus or InProcessBus(), rooms.deliver, read_stream, wait,
                    has_room=lambda _: True)


def test_a_message_is_presented_alike_from_the_command_and_from_its_event() -> None:
    result = sent(7)
    assert sent_view(result) == event_view(relayed(result))
    assert sent_view(result)["position"] == 7 and sent_view(result)["userId"] == AUTHOR


async def test_each_message_is_delivered_once_whichever_path_brings_it_first() -> None:
    rooms = Rooms()
    feed = feed_for(rooms)
    a, b, c = sent(1, "a"), sent(2, "b"), sent(3, "c")
    feed.committed([b, a])  # this node's commit: pushed at once, in log order
    await feed.on_live(committed_updates([b, c]))  # another node's live copy of b and c
    await feed.on_events(EventBatch(events=[relayed(a), relayed(b), relayed(c)], upto=3))
    ids = [u.data["id"] for u in rooms.heard]
    assert ids == [str(a.message.id), str(b.message.id), str(c.message.id)]
    assert feed.counts == {"fast": 2, "live": 1, "relayed": 0, "dropped": 4}


async def test_the_relayed_event_delivers_what_no_node_published() -> None:
    rooms = Rooms()
    feed = feed_for(rooms)
    lost = sent(5, "the committing node died before publishing this")
    await feed.on_events(EventBatch(events=[relayed(lost)], upto=5))
    assert [u.data for u in rooms.heard] == [sent_view(lost)]
    assert feed.counts["relayed"] == 1


async def test_the_fast_path_is_published_for_the_other_nodes_only() -> None:
    bus = InProcessBus()
    heard_here: list[list[LiveUpdate]] = []

    async def on_live(updates: list[LiveUpdate]) -> None:
        heard_here.append(updates)

    await bus.subscribe_live(on_live)
    rooms = Rooms()
    feed = feed_for(rooms, bus)
    await feed.start()
    try:
        feed.committed([sent(1)])
        await asyncio.sleep(0.01)  # the publisher task runs
    finally:
        await feed.stop()
    assert len(rooms.heard) == 1
    assert heard_here == []  # one process: no other node, and no echo back to this one


def test_deleted_messages_leave_the_recent_list() -> None:
    rooms = Rooms()
    feed = feed_for(rooms)
    a, b = sent(1, "a"), sent(2, "b")
    feed.committed([a, b])
    assert [m["content"] for m in feed.recent.snapshot(STREAM)] == ["a", "b"]
    asyncio.run(feed.on_events(EventBatch(events=[EventEnvelope(
        position=3, id=f"{a.message.id}:2", aggregate_id=str(a.message.id),
        aggregate_version=2, type="ChatMessage.Deleted", schema_version=1,
        timestamp=datetime.now(UTC).isoformat(), channel_id=CHANNEL,
        data={"stream_id": STREAM, "deleted_by": AUTHOR})], upto=3)))
    assert [m["content"] for m in feed.recent.snapshot(STREAM)] == ["b"]
    assert rooms.heard[-1].event == "chat:deleted"
    # The read model may not have applied the deletion yet: a join leaves it out anyway.
    stored = [sent_view(a)]
    history = merge_history(stored, feed.recent.snapshot(STREAM), None, 50,
                            feed.recent.deleted())
    assert [m["content"] for m in history] == ["b"]


def test_seen_ids_forget_the_oldest_beyond_capacity() -> None:
    seen = SeenIds(capacity=3)
    assert all(seen.first_time(i) for i in "abcd")
    assert len(seen) == 3
    assert seen.first_time("a")  # forgotten
    assert not seen.first_time("d")


def test_recent_messages_expire_and_are_bounded_per_room() -> None:
    now = [0.0]
    recent = RecentMessages(per_room=2, keep_s=10, clock=lambda: now[0])
    for i in range(3):
        recent.add("s", {"id": str(i), "position": i})
    assert [m["id"] for m in recent.snapshot("s")] == ["1", "2"]
    now[0] = 5.0
    recent.add("s", {"id": "3", "position": 3})
    now[0] = 10.5  # 1 and 2 are older than 10 s, 3 is not
    assert [m["id"] for m in recent.snapshot("s")] == ["3"]
    now[0] = 20.0
    recent.prune()
    assert recent.rooms == 0


def test_a_join_history_merges_the_read_model_with_recent_messages() -> None:
    def m(p: int) -> dict:
        return {"id": f"m{p}", "position": p}

    stored = [m(1), m(2), m(3)]  # what the read model has
    recent = [m(3), m(4), m(6), m(5)]  # what this node pushed lately, partly not projected
    assert [x["position"] for x in merge_history(stored, recent, None, 4)] == [3, 4, 5, 6]
    assert [x["position"] for x in merge_history(stored, recent, None, 50)] == [1, 2, 3, 4, 5, 6]
    # resuming after position 3: everything after it, whichever side holds it
    assert [x["position"] for x in merge_history([], recent, 3, 50)] == [4, 5, 6]
    # a resume is capped at ten times the history size, oldest first
    assert [x["position"] for x in merge_history([m(4)], [m(4), m(5)], 3, 1)] == [4, 5]


def test_the_http_history_first_page_holds_what_was_pushed_before_it_was_projected() -> None:
    def m(p: int) -> dict:
        return {"id": f"m{p}", "position": p}

    # the read model has 1-3 (newest first, nothing older); 4-6 were pushed, 5 then deleted
    page, cursor = newest_page([m(3), m(2), m(1)], False, [m(4), m(5), m(6)], 2, {"m5"})
    assert [x["position"] for x in page] == [6, 4] and cursor == 4
    page, cursor = newest_page([m(3), m(2), m(1)], False, [m(4), m(6)], 10)
    assert [x["position"] for x in page] == [6, 4, 3, 2, 1] and cursor is None
    # older pages exist in the read model: the cursor points below this page
    page, cursor = newest_page([m(3), m(2)], True, [], 2)
    assert [x["position"] for x in page] == [3, 2] and cursor == 2


async def test_each_status_change_is_pushed_with_its_own_status() -> None:
    """ENDING and ARCHIVED a moment apart: the read model already says ARCHIVED when the
    first push is built, yet the room hears ENDING, then ARCHIVED; viewer counts once."""
    rooms = Rooms()
    view = {"id": STREAM, "status": "ARCHIVED", "isArchived": True, "viewerCount": 3,
            "peakViewers": 9}

    async def read_stream(stream_id: str) -> dict:
        return view

    waited: list[int] = []

    async def wait(position: int) -> None:
        waited.append(position)

    feed = LiveFeed(InProcessBus(), rooms.deliver, read_stream, wait, has_room=lambda _: True)

    def stream_event(position: int, type: str) -> EventEnvelope:
        return EventEnvelope(position=position, id=f"{STREAM}:{position}",
                             aggregate_id=STREAM, aggregate_version=position, type=type,
                             schema_version=1, timestamp=datetime.now(UTC).isoformat(),
                             channel_id=CHANNEL, data={"channel_id": CHANNEL})

    await feed.start()
    try:
        await feed.on_events(EventBatch(events=[
            stream_event(10, "Stream.ViewerCountSampled"), stream_event(11, "Stream.Ended"),
            stream_event(12, "Stream.ViewerCountSampled"), stream_event(13, "Stream.Archived"),
        ], upto=13))
        async with asyncio.timeout(5):
            while len(rooms.heard) < 3:
                await asyncio.sleep(0.01)
    finally:
        await feed.stop()
    assert waited == [13]  # the read model is read once it has every one of them
    assert [(u.event, u.data.get("status")) for u in rooms.heard] == [
        ("stream:status", "ENDING"), ("stream:viewers", None), ("stream:status", "ARCHIVED")]
    assert rooms.heard[0].data["isArchived"] is False
    assert rooms.heard[1].data == {"streamId": STREAM, "count": 3, "peak": 9}
