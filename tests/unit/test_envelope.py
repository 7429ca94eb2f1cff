"""Envelopes: the wire form of stored events (no secrets, a channel id to route by), and
runs of events that share a routing key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import msgspec
import pytest
from eventsourcing.persistence import Notification

from domain.channel import Channel
from domain.chat import ChatMessage
from domain.stream import Stream
from domain.user import User
from infra.envelope import EventEnvelope, event_id, runs, to_envelope
from infra.event_store import EventStore

from .support import World


def test_secrets_stay_in_the_store(store: EventStore, world: World, owner: User,
                                   channel: Channel) -> None:
    loaded = store.get(channel.id, Channel)
    loaded.rotate_stream_key()
    store.save(loaded)
    log = world.log()
    by_type = {e.type: e for e in log}
    registered = by_type["User.Registered"]
    assert "password_hash" not in registered.data
    assert registered.data["email"] == "owner@example.com"
    created = by_type["Channel.Created"]
    assert "stream_key" not in created.data
    assert created.data["slug"] == "owner-tv"
    assert by_type["Channel.StreamKeyRotated"].data == {}
    wire = b"".join(msgspec.json.encode(e) for e in log)
    assert loaded.stream_key.encode() not in wire
    assert channel.stream_key.encode() not in wire
    assert owner.password_hash is not None and owner.password_hash.encode() not in wire


def test_channel_ids(store: EventStore, world: World, owner: User, channel: Channel) -> None:
    stream = world.live_stream(channel)
    world.say(owner, stream.id, "hi")
    log = world.log()
    for e in log:
        if e.type.startswith("Channel."):
            assert e.channel_id == e.aggregate_id == str(channel.id)
        elif e.type.startswith(("Stream.", "ChatMessage.")):
            assert e.channel_id == e.data["channel_id"] == str(channel.id)
            assert e.aggregate_id != str(channel.id)
        elif e.type == "StreamKeyClaim.Claimed":  # routed with its channel
            assert e.channel_id == e.data["channel_id"] == str(channel.id)
            assert e.data == {"channel_id": str(channel.id)}  # no key, no digest
        else:
            assert e.type in {"User.Registered", "UniqueName.Claimed"}
            assert e.channel_id is None
            assert e.routing_key == f"{e.type}.-"
    types = {e.type for e in log}
    assert {"Channel.WentLive", "Stream.Started", "ChatMessage.Sent"} <= types
    sent = next(e for e in log if e.type == "ChatMessage.Sent")
    assert sent.routing_key == f"ChatMessage.Sent.{channel.id}"


def test_envelope_fields(store: EventStore, world: World, owner: User) -> None:
    [registered] = [e for e in world.log() if e.type == "User.Registered"]
    assert registered.aggregate_id == str(owner.id)
    assert registered.aggregate_version == 1
    assert registered.schema_version == 1
    assert registered.id == event_id(str(owner.id), 1)
    assert datetime.fromisoformat(registered.timestamp) == owner.created_on
    assert set(registered.data) == {"email", "username", "display_name"}
    envelopes = world.log()
    assert [e.position for e in envelopes] == [1, 2, 3]
    assert len({e.id for e in envelopes}) == 3


def test_data_is_plain(store: EventStore, world: World, owner: User, channel: Channel) -> None:
    stream = world.live_stream(channel)
    created = next(e for e in world.log() if e.type == "Stream.Created")
    assert created.data == {"channel_id": str(channel.id), "owner_id": str(owner.id),
                            "title": "Untitled stream"}
    assert created.aggregate_id == str(stream.id)
    decoded = msgspec.json.decode(msgspec.json.encode(created), type=EventEnvelope)
    assert decoded == created


def test_event_ids_are_stable_and_distinct() -> None:
    a = str(uuid4())
    assert event_id(a, 1) == event_id(a, 1)
    assert event_id(a, 1) != event_id(a, 2)
    assert event_id(a, 1) != event_id(str(uuid4()), 1)


def test_events_outside_the_catalogue_are_skipped(store: EventStore) -> None:
    foreign = Notification(id=1, originator_id=uuid4(), originator_version=1,
                           topic="somewhere.else:Thing.Happened", state=b"{}")
    assert to_envelope(foreign, store.app.mapper) is None


# -- runs ---------------------------------------------------------------------------------

def envelope(position: int, type_: str, channel_id: str | None) -> EventEnvelope:
    return EventEnvelope(position=position, id=str(position), aggregate_id="a",
                         aggregate_version=position, type=type_, schema_version=1,
                         timestamp="2024-01-01T00:00:00+00:00", channel_id=channel_id, data={})


def shape(groups: list[list[EventEnvelope]]) -> list[list[int]]:
    return [[e.position for e in g] for g in groups]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ([], []),
        ([("ChatMessage.Sent", "c1")], [[1]]),
        ([("ChatMessage.Sent", "c1")] * 3, [[1, 2, 3]]),
        (
            [("ChatMessage.Sent", "c1"), ("ChatMessage.Sent", "c1"), ("ChatMessage.Sent", "c2"),
             ("ChatMessage.Sent", "c1"), ("ChatMessage.Sent", "c1")],
            [[1, 2], [3], [4, 5]],  # maximal runs, not grouped across the gap
        ),
        (
            [("ChatMessage.Sent", "c1"), ("ChatMessage.Deleted", "c1"),
             ("ChatMessage.Deleted", "c1")],
            [[1], [2, 3]],  # same channel, different type: a different key
        ),
        (
            [("User.Registered", None), ("UniqueName.Claimed", None),
             ("UniqueName.Claimed", None), ("User.Registered", None)],
            [[1], [2, 3], [4]],
        ),
    ],
)
def test_runs(spec: list[tuple[str, str | None]], expected: list[list[int]]) -> None:
    events = [envelope(i, t, c) for i, (t, c) in enumerate(spec, start=1)]
    groups = runs(events)
    assert shape(groups) == expected
    assert [e for g in groups for e in g] == events  # order and content preserved
    for g in groups:
        assert len({e.routing_key for e in g}) == 1


def test_routing_key() -> None:
    assert envelope(1, "Stream.Started", "abc").routing_key == "Stream.Started.abc"
    assert envelope(1, "User.Registered", None).routing_key == "User.Registered.-"


def test_plain_conversion_of_nested_values(store: EventStore, owner: User) -> None:
    channel = Channel(owner_id=owner.id, slug="abc", name="n", description="", category="c",
                      tags=["x", "y"], is_public=True, stream_key="live_secret")
    mod = uuid4()
    channel.grant_moderator(mod)
    store.save(channel)
    log: list[Any] = store.read(0, 100)[0]
    granted = next(e for e in log if e.type == "Channel.ModeratorGranted")
    assert granted.data == {"user_id": str(mod)}
    created = next(e for e in log if e.type == "Channel.Created")
    assert created.data["tags"] == ["x", "y"]
    assert created.data["owner_id"] == str(owner.id)


def test_fast_decoding_matches_the_library_mapper(tmp_path: Path) -> None:
    """The envelope's direct JSON decoding gives what the library's mapper gives."""
    from infra.envelope import _plain

    store = EventStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                        "SQLITE_DBNAME": str(tmp_path / "fast.sqlite")})
    try:
        owner = uuid4()
        channel = Channel(owner_id=owner, slug="fast", name="Fast", description="", category="c",
                          tags=["a"], is_public=True, stream_key="live_secret")
        stream = Stream(channel_id=channel.id, owner_id=owner, title="t")
        stream.start()
        message = ChatMessage(stream_id=stream.id, channel_id=channel.id, author_id=owner,
                              username="u", display_name="U", badges=["broadcaster"],
                              content="hi")
        store.save(channel, stream, message)
        notifications = store.app.recorder.select_notifications(start=1, limit=100)
        assert len(notifications) == 4
        for n in notifications:
            fast = store.read(n.id - 1, 1)[0][0]
            event = vars(store.app.mapper.to_domain_event(n))
            slow = {k: _plain(v) for k, v in event.items()
                    if k not in {"originator_id", "originator_version", "timestamp",
                                 "originator_topic", "stream_key", "password_hash"}}
            assert fast.data == slow
            assert fast.timestamp == event["timestamp"].isoformat()
    finally:
        store.close()
