"""A version-1 ChatMessage.Sent (no badges) stored before v2 still loads, as v2."""

from __future__ import annotations

import json

from eventsourcing.persistence import StoredEvent

from commands.delete_message import DeleteMessage, delete_message
from domain.channel import Channel
from domain.chat import ChatMessage
from domain.user import User
from infra.eventstore.event_store import EventStore

from .support import World


def store_v1_sent(store: EventStore, message: ChatMessage) -> StoredEvent:
    """Stores the message's Sent event as version 1 would have: no badges, no version."""
    [sent] = message.collect_events()
    v2 = store.app.mapper.to_stored_event(sent)
    state = json.loads(v2.state)
    assert state.pop("class_version") == 2
    state.pop("badges")
    v1 = StoredEvent(
        originator_id=v2.originator_id,
        originator_version=v2.originator_version,
        topic=v2.topic,
        state=json.dumps(state).encode(),
    )
    store.app.recorder.insert_events([v1])
    return v1


def test_v1_sent_event_loads_with_no_badges(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    stream = world.live_stream(channel)
    message = ChatMessage(stream_id=stream.id, channel_id=channel.id, author_id=owner.id,
                          username="owner", display_name="Owner", badges=["broadcaster"],
                          content="from before badges")
    before = store.head()
    store_v1_sent(store, message)

    # The premise: what is stored really is a v1 event.
    [raw] = store.app.recorder.select_events(message.id)
    raw_state = json.loads(raw.state)
    assert "badges" not in raw_state and "class_version" not in raw_state

    loaded = store.get(message.id, ChatMessage)
    assert loaded.badges == []
    assert loaded.content == "from before badges"
    assert loaded.author_id == owner.id and loaded.stream_id == stream.id

    envelopes, upto = store.read(before, 10)
    [envelope] = envelopes
    assert upto == envelope.position == before + 1
    assert envelope.type == "ChatMessage.Sent"
    assert envelope.schema_version == 2
    assert envelope.data["badges"] == []
    assert envelope.data["content"] == "from before badges"
    assert "class_version" not in envelope.data
    assert envelope.channel_id == str(channel.id)


def test_v1_message_can_still_be_deleted(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    stream = world.live_stream(channel)
    viewer = world.user("viewer")
    message = ChatMessage(stream_id=stream.id, channel_id=channel.id, author_id=viewer.id,
                          username="viewer", display_name="viewer", badges=[], content="old")
    store_v1_sent(store, message)
    result = delete_message(DeleteMessage(actor_id=owner.id, message_id=message.id), store)
    assert result.position == store.head()
    assert store.get(message.id, ChatMessage).deleted_by == owner.id


def test_v2_events_keep_their_badges(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    stream = world.live_stream(channel)
    message = world.say(owner, stream.id, "now with badges")
    [raw] = store.app.recorder.select_events(message.id)
    assert json.loads(raw.state)["class_version"] == 2
    assert store.get(message.id, ChatMessage).badges == ["broadcaster"]
    [envelope] = world.log(store.head() - 1)
    assert envelope.data["badges"] == ["broadcaster"] and envelope.schema_version == 2
