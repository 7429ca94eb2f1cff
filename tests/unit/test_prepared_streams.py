"""CreateStream prepares an OFFLINE stream; the next go-live (the owner's start, an
encoder's publish or a status change) starts that one instead of a new one; ending it
before it went live discards it. A version-1 Stream.Created (no description, category)
still loads."""

from __future__ import annotations

import json

import pytest
from eventsourcing.persistence import StoredEvent

from commands.actors import SystemActor
from commands.change_stream_status import ChangeStreamStatus, change_stream_status
from commands.create_stream import CreateStream, create_stream
from commands.end_stream import EndStream, end_stream
from commands.go_live import GoLive, go_live
from commands.ingest_connected import IngestConnected, ingest_connected
from commands.playback import PlaybackPlan
from commands.set_channel_image import SetChannelImage, set_channel_image
from domain.channel import Channel
from domain.errors import Conflict, Forbidden, Invalid, TooLong
from domain.stream import Stream, StreamStatus
from domain.user import User
from infra.eventstore.event_store import EventStore

from .support import World

S = StreamStatus


def prepare(store: EventStore, owner: User, channel: Channel, **details: str) -> Stream:
    return create_stream(CreateStream(actor_id=owner.id, channel_id=channel.id, **details),
                         store).stream


def test_create_stream_prepares_an_offline_stream_with_its_details(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    head = store.head()
    stream = prepare(store, owner, channel, title=" Launch ", description=" Big day ",
                     category="Music")
    assert sorted(e.type for e in world.log(head)) == ["Channel.StreamPrepared",
                                                       "Stream.Created"]
    stored = store.get(stream.id, Stream)
    assert (stored.status, stored.title, stored.description, stored.category) == (
        S.OFFLINE, "Launch", "Big day", "music")
    assert stored.started_at is None
    ch = store.get(channel.id, Channel)
    assert (ch.prepared_stream_id, ch.current_stream_id) == (stream.id, None)


def test_the_category_defaults_to_the_channels(
    store: EventStore, owner: User, channel: Channel
) -> None:
    assert prepare(store, owner, channel).category == channel.category


def test_only_the_owner_prepares(store: EventStore, world: World, channel: Channel) -> None:
    other = world.user("other")
    head = store.head()
    with pytest.raises(Forbidden):
        create_stream(CreateStream(actor_id=other.id, channel_id=channel.id), store)
    assert store.head() == head


def test_bad_details_are_refused_naming_the_field(
    store: EventStore, owner: User, channel: Channel
) -> None:
    with pytest.raises(TooLong) as e:
        prepare(store, owner, channel, description="x" * 2001)
    assert e.value.field == "description"
    with pytest.raises(Invalid) as e2:
        prepare(store, owner, channel, category="  ")
    assert e2.value.field == "category"


def test_a_second_prepare_is_a_conflict_naming_the_first(
    store: EventStore, owner: User, channel: Channel
) -> None:
    first = prepare(store, owner, channel)
    head = store.head()
    with pytest.raises(Conflict) as e:
        prepare(store, owner, channel, title="again")
    assert str(first.id) in e.value.message
    assert store.head() == head


def test_no_prepare_while_live(store: EventStore, world: World, owner: User,
                               channel: Channel) -> None:
    world.live_stream(channel)
    with pytest.raises(Conflict):
        prepare(store, owner, channel)


def test_go_live_starts_the_prepared_stream(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    prepared = prepare(store, owner, channel, title="Prepared", description="d")
    head = store.head()
    live = go_live(GoLive(actor_id=owner.id, channel_id=channel.id, title="ignored"),
                   store).stream
    assert live.id == prepared.id
    assert sorted(e.type for e in world.log(head)) == ["Channel.WentLive", "Stream.Started"]
    stored = store.get(prepared.id, Stream)
    assert (stored.status, stored.title, stored.description) == (S.LIVE, "Prepared", "d")
    ch = store.get(channel.id, Channel)
    assert (ch.current_stream_id, ch.prepared_stream_id) == (prepared.id, None)
    # Once it has ended, the next go-live makes a new stream.
    end_stream(EndStream(actor_id=owner.id, stream_id=prepared.id), store)
    again = go_live(GoLive(actor_id=owner.id, channel_id=channel.id), store).stream
    assert again.id != prepared.id


def test_an_encoders_publish_starts_the_prepared_stream(
    store: EventStore, owner: User, channel: Channel
) -> None:
    prepared = prepare(store, owner, channel, title="Prepared")
    plan = PlaybackPlan(provider="nginx-rtmp", hls_template="http://hls/{playback_id}.m3u8")
    result = ingest_connected(IngestConnected(actor_id=SystemActor("ingest:test"),
                                              channel_id=channel.id, playback=plan), store)
    assert (result.outcome, result.stream.id) == ("started", prepared.id)
    stored = store.get(prepared.id, Stream)
    assert (stored.status, stored.title) == (S.LIVE, "Prepared")
    assert stored.hls_url == f"http://hls/{prepared.id}.m3u8"


def test_a_status_change_to_live_starts_the_prepared_stream(
    store: EventStore, owner: User, channel: Channel
) -> None:
    prepared = prepare(store, owner, channel)
    change_stream_status(ChangeStreamStatus(actor_id=owner.id, stream_id=prepared.id,
                                            status=S.LIVE), store)
    ch = store.get(channel.id, Channel)
    assert (ch.current_stream_id, ch.prepared_stream_id) == (prepared.id, None)


def test_ending_a_prepared_stream_discards_it_and_frees_the_channel(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    prepared = prepare(store, owner, channel)
    head = store.head()
    ended = end_stream(EndStream(actor_id=owner.id, stream_id=prepared.id), store).stream
    assert sorted(e.type for e in world.log(head)) == ["Channel.PreparedStreamDiscarded",
                                                       "Stream.Discarded"]
    assert ended.status is S.ARCHIVED and ended.started_at is None
    assert store.get(channel.id, Channel).prepared_stream_id is None
    with pytest.raises(Conflict):  # ended is ended
        end_stream(EndStream(actor_id=owner.id, stream_id=prepared.id), store)
    assert prepare(store, owner, channel).id != prepared.id


def test_another_user_cannot_end_a_prepared_stream(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    prepared = prepare(store, owner, channel)
    with pytest.raises(Forbidden):
        end_stream(EndStream(actor_id=world.user("other").id, stream_id=prepared.id), store)


def test_channel_images_are_the_owners(store: EventStore, world: World, owner: User,
                                       channel: Channel) -> None:
    with pytest.raises(Forbidden):
        set_channel_image(SetChannelImage(actor_id=world.user("stranger").id, channel_id=channel.id,
                                          kind="avatar", url="/uploads/images/a.png"), store)
    result = set_channel_image(SetChannelImage(actor_id=owner.id, channel_id=channel.id,
                                               kind="banner", url="/uploads/images/b.png"),
                               store)
    assert result.position > 0
    ch = store.get(channel.id, Channel)
    assert (ch.avatar, ch.banner) == (None, "/uploads/images/b.png")
    again = set_channel_image(SetChannelImage(actor_id=owner.id, channel_id=channel.id,
                                              kind="banner", url="/uploads/images/b.png"),
                              store)
    assert again.position == 0  # unchanged: nothing recorded


def test_a_v1_stream_created_loads_with_no_description_or_category(
    store: EventStore, owner: User, channel: Channel
) -> None:
    stream = Stream(channel_id=channel.id, owner_id=owner.id, title="Old")
    [created] = stream.collect_events()
    v2 = store.app.mapper.to_stored_event(created)
    state = json.loads(v2.state)
    assert state.pop("class_version") == 2
    state.pop("description")
    state.pop("category")
    store.app.recorder.insert_events([StoredEvent(
        originator_id=v2.originator_id, originator_version=v2.originator_version,
        topic=v2.topic, state=json.dumps(state).encode())])
    loaded = store.get(stream.id, Stream)
    assert (loaded.title, loaded.description, loaded.category) == ("Old", "", None)
