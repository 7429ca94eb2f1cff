"""Envelopes: the wire form of stored events (no secrets, a channel id to route by), and
runs of events that share a routing key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_OID, uuid4, uuid5

import msgspec
import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import Notification

from domain.channel import Channel
from domain.chat import ChatMessage
from domain.chat_filters import ChatFilters
from domain.report import Report
from domain.subscription import Subscription, Tier
from domain.user import User
from domain.webhook_receipt import WebhookReceipt
from infra.eventstore.envelope import (
    EventEnvelope,
    _direct,
    _plain,
    _via_mapper,
    decode_event,
    event_id,
    runs,
)
from infra.eventstore.event_store import EventStore

from .support import World
from .test_upcasting import store_v1_sent


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
                            "title": "Untitled stream", "description": "",
                            "category": "just-chatting"}
    assert created.aggregate_id == str(stream.id)
    decoded = msgspec.json.decode(msgspec.json.encode(created), type=EventEnvelope)
    assert decoded == created


def test_event_ids_are_stable_and_distinct() -> None:
    a = str(uuid4())
    assert event_id(a, 1) == event_id(a, 1)
    assert event_id(a, 1) != event_id(a, 2)
    assert event_id(a, 1) != event_id(str(uuid4()), 1)


def test_event_ids_are_uuid5s_of_aggregate_and_version() -> None:
    for version in (1, 2, 10, 12345):
        a = str(uuid4())
        assert event_id(a, version) == str(uuid5(NAMESPACE_OID, f"{a}/{version}"))


def test_events_outside_the_catalogue_are_skipped(store: EventStore) -> None:
    foreign = Notification(id=1, originator_id=uuid4(), originator_version=1,
                           topic="somewhere.else:Thing.Happened", state=b"{}")
    assert decode_event(foreign.topic, foreign.state, foreign.id, foreign.originator_id,
                        foreign.originator_version, store.app.mapper) is None


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


def varied_log(store: EventStore, world: World, owner: User, channel: Channel) -> None:
    """Events of many kinds, with every value the stored JSON holds: UUIDs, datetimes,
    None, lists, a dict-valued field, a domain enum's value, a secret; and a version-1
    ChatMessage.Sent, which only the mapper (its upcaster) reads."""
    now = datetime.now(UTC)
    viewer, other = world.user("viewer"), world.user("other")
    world.grant(channel, viewer)
    loaded = store.get(channel.id, Channel)
    loaded.rotate_stream_key()
    loaded.ban(other.id, by=owner.id, until=now + timedelta(minutes=5), reason="spam", now=now)
    loaded.set_filters(ChatFilters(blocked_terms=("darn", "heck"), slow_mode_s=3), by=owner.id)
    profile = store.get(owner.id, User)
    profile.update_profile(bio="hi", social_links={"github": "https://github.com/owner"})
    store.save(loaded, profile)
    stream = world.live_stream(channel)
    said = world.say(owner, stream.id, "hello ünïcode \"quoted\" {\"_type_\": \"x\"}")
    report = Report.file(reporter_id=viewer.id, channel_id=channel.id, user_id=owner.id,
                         message_id=said.id, content=said.content, reason="spam")
    store.save(report,
               Subscription.start(viewer.id, channel.id, next(iter(Tier)), now),
               WebhookReceipt.record(provider="mux", event_id="e1", event_type="t",
                                     received_at=now, channel_id=channel.id, stream_id=None,
                                     outcome="handled"))
    store_v1_sent(store, ChatMessage(stream_id=stream.id, channel_id=channel.id,
                                     author_id=viewer.id, username="viewer",
                                     display_name="viewer", badges=[], content="old"))


def test_direct_decoding_gives_what_the_library_mapper_gives(
        store: EventStore, world: World, owner: User, channel: Channel) -> None:
    """The stored JSON decoded directly against the mapper's domain event turned into JSON
    types: the same timestamp and data, keys in the same order, for every event here."""
    varied_log(store, world, owner, channel)
    mapper: Any = store.app.mapper
    notifications = store.app.recorder.select_notifications(start=1, limit=1000)
    direct = 0
    for n in notifications:
        [envelope], _ = store.read(n.id - 1, 1)
        by_mapper = _via_mapper(n.topic, n.state, n.originator_id, n.originator_version,
                                mapper)
        assert (envelope.timestamp, list(envelope.data.items())) == (
            by_mapper[0], list(by_mapper[1].items())), envelope.type
        decoded = _direct(n.state, envelope.schema_version)
        if decoded is not None:
            direct += 1
            assert (decoded[0], list(decoded[1].items())) == (
                by_mapper[0], list(by_mapper[1].items()))
    types = {e.type for e in store.read(0, 1000)[0]}
    assert {"User.ProfileUpdated", "Channel.UserBanned", "Channel.FiltersChanged",
            "Subscription.Started", "WebhookReceipt.Received", "Report.Filed"} <= types
    assert direct == len(notifications) - 1  # all but the version-1 message
    [old] = [e for e in store.read(0, 1000)[0]
             if e.type == "ChatMessage.Sent" and e.data["content"] == "old"]
    assert old.schema_version == 2 and old.data["badges"] == []
    profile = next(e for e in store.read(0, 1000)[0] if e.type == "User.ProfileUpdated")
    assert profile.data["social_links"] == {"github": "https://github.com/owner"}


def test_a_cipher_and_a_compressor_give_the_same_envelopes(
        store: EventStore, world: World, owner: User, channel: Channel) -> None:
    """The same stored events, encrypted and compressed: the mapper reads them, to the
    same envelopes."""
    varied_log(store, world, owner, channel)
    sealed = EventStore({"PERSISTENCE_MODULE": "eventsourcing.popo",
                         "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
                         "CIPHER_KEY": AESCipher.create_key(16),
                         "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"})
    try:
        plain: Any = store.app.mapper
        mapper: Any = sealed.app.mapper
        notifications = store.app.recorder.select_notifications(start=1, limit=1000)
        sealed.app.recorder.insert_events(
            [mapper.to_stored_event(plain.to_domain_event(n)) for n in notifications])
        [first] = sealed.app.recorder.select_notifications(start=1, limit=1)
        assert first.state != notifications[0].state  # not JSON any more
        assert sealed.read(0, 1000) == store.read(0, 1000)
    finally:
        sealed.close()


def test_nested_values_decode_as_the_mapper_decodes_them(store: EventStore) -> None:
    """Values the flat decoding does not take (objects inside lists and dicts) go the
    slower direct way, still as the mapper would read them; what only the mapper knows
    (another transcoding, an older version) is left to it."""
    transcoder: Any = store.app.mapper.transcoder
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    a, b = uuid4(), uuid4()
    state = {"timestamp": when, "ids": [a, b], "nested": {"at": when, "id": a, "n": [1, "x"]},
             "amount": Decimal("1.50"), "plain": {"k": "v"}, "class_version": 3}
    stored = transcoder.encode(state)
    decoded = _direct(stored, 3)
    assert decoded == (when.isoformat(), {
        "ids": [str(a), str(b)], "nested": {"at": when.isoformat(), "id": str(a), "n": [1, "x"]},
        "amount": "1.50", "plain": {"k": "v"}}, None)  # no trace context stored
    by_mapper = {k: _plain(v) for k, v in transcoder.decode(stored).items()
                 if k not in {"timestamp", "class_version", "amount"}}
    assert by_mapper == {k: v for k, v in decoded[1].items() if k != "amount"}
    assert _direct(stored, 4) is None  # an older version: the upcasters, via the mapper
    flat = transcoder.encode({"timestamp": when, "id": a, "amount": Decimal("2"), "n": None})
    assert _direct(flat, 1) == (when.isoformat(), {"id": str(a), "amount": "2", "n": None}, None)
    other = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2024-05-01T12:00:00+00:00"},' \
            b'"x":{"_type_":"point","_data_":[1,2]}}'
    assert _direct(other, 1) is None
    assert _direct(b"[1, 2]", 1) is None
    assert _direct(b'{"timestamp": "2024-05-01"}', 1) is None


def test_uuid_texts_are_remembered_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.eventstore import envelope

    monkeypatch.setattr(envelope, "_UUIDS_MAX", 4)
    ids = [uuid4() for _ in range(10)]
    for u in ids + ids:
        assert envelope._uuid(u.hex) == str(u)
        assert len(envelope._UUIDS) <= 4
