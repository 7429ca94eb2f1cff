"""GoLive, EndStream and ChangeStreamStatus against a real store."""

from __future__ import annotations

from uuid import uuid4

import pytest

from commands.change_stream_status import ChangeStreamStatus, change_stream_status
from commands.end_stream import EndStream, end_stream
from commands.go_live import GoLive, go_live
from domain.channel import Channel
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.stream import Stream, StreamStatus
from domain.user import User
from infra.eventstore.event_store import EventStore

from .support import World

S = StreamStatus


def test_go_live_saves_a_live_stream_and_the_channel_together(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    head = store.head()
    result = go_live(GoLive(actor_id=owner.id, channel_id=channel.id, title="  First!  "), store)
    assert result.position == store.head()
    assert sorted(e.type for e in world.log(head)) == [
        "Channel.WentLive", "Stream.Created", "Stream.Started"
    ]
    stream = store.get(result.stream.id, Stream)
    assert stream.status is S.LIVE
    assert stream.title == "First!"
    assert (stream.channel_id, stream.owner_id) == (channel.id, owner.id)
    assert stream.started_at is not None
    assert store.get(channel.id, Channel).current_stream_id == stream.id


def test_go_live_without_a_title(store: EventStore, owner: User, channel: Channel) -> None:
    stream = go_live(GoLive(actor_id=owner.id, channel_id=channel.id), store).stream
    assert store.get(stream.id, Stream).title == "Untitled stream"


def test_go_live_with_a_too_long_title_is_invalid(
    store: EventStore, owner: User, channel: Channel
) -> None:
    head = store.head()
    with pytest.raises(Invalid):
        go_live(GoLive(actor_id=owner.id, channel_id=channel.id, title="x" * 141), store)
    assert store.head() == head


def test_go_live_by_a_non_owner_is_forbidden(
    store: EventStore, world: World, channel: Channel
) -> None:
    mod = world.user("mod")
    world.grant(channel, mod)
    head = store.head()
    with pytest.raises(Forbidden):
        go_live(GoLive(actor_id=mod.id, channel_id=channel.id), store)
    assert store.head() == head
    assert store.get(channel.id, Channel).current_stream_id is None


def test_go_live_on_an_unknown_channel_is_not_found(store: EventStore, owner: User) -> None:
    with pytest.raises(NotFound):
        go_live(GoLive(actor_id=owner.id, channel_id=uuid4()), store)


def test_second_go_live_while_live_is_a_conflict(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    first = world.live_stream(channel)
    head = store.head()
    with pytest.raises(Conflict) as info:
        go_live(GoLive(actor_id=owner.id, channel_id=channel.id), store)
    assert info.value.field == "channelId"
    assert store.head() == head
    assert store.get(channel.id, Channel).current_stream_id == first.id


def test_go_live_works_again_after_end_stream(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    first = world.live_stream(channel)
    end_stream(EndStream(actor_id=owner.id, stream_id=first.id), store)
    second = go_live(GoLive(actor_id=owner.id, channel_id=channel.id), store).stream
    assert second.id != first.id
    assert store.get(channel.id, Channel).current_stream_id == second.id
    assert store.get(first.id, Stream).status is S.ENDING
    assert store.get(second.id, Stream).status is S.LIVE


def test_two_channels_are_live_independently(world: World, owner: User, channel: Channel) -> None:
    other = world.channel(owner, "second-tv")
    a, b = world.live_stream(channel), world.live_stream(other)
    assert a.channel_id != b.channel_id


# -- EndStream ----------------------------------------------------------------------------

def test_end_stream(store: EventStore, world: World, owner: User, channel: Channel) -> None:
    stream = world.live_stream(channel)
    head = store.head()
    result = end_stream(EndStream(actor_id=owner.id, stream_id=stream.id), store)
    assert result.position == store.head()
    log = world.log(head)
    assert sorted(e.type for e in log) == ["Channel.WentOffline", "Stream.Ended"]
    ended = next(e for e in log if e.type == "Stream.Ended")
    assert isinstance(ended.data["duration_s"], int) and ended.data["duration_s"] >= 0
    assert ended.channel_id == str(channel.id)
    loaded = store.get(stream.id, Stream)
    assert loaded.status is S.ENDING
    assert loaded.ended_at is not None and loaded.started_at is not None
    assert loaded.ended_at >= loaded.started_at
    assert store.get(channel.id, Channel).current_stream_id is None


def test_end_stream_by_a_non_owner_is_forbidden(
    store: EventStore, world: World, channel: Channel
) -> None:
    stream = world.live_stream(channel)
    head = store.head()
    with pytest.raises(Forbidden):
        end_stream(EndStream(actor_id=world.user("viewer").id, stream_id=stream.id), store)
    assert store.head() == head + 3  # only the viewer's registration
    assert store.get(stream.id, Stream).status is S.LIVE


def test_end_stream_twice_is_a_conflict(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    stream = world.live_stream(channel)
    end_stream(EndStream(actor_id=owner.id, stream_id=stream.id), store)
    head = store.head()
    with pytest.raises(Conflict):
        end_stream(EndStream(actor_id=owner.id, stream_id=stream.id), store)
    assert store.head() == head


def test_end_unknown_stream_is_not_found(store: EventStore, owner: User) -> None:
    with pytest.raises(NotFound):
        end_stream(EndStream(actor_id=owner.id, stream_id=uuid4()), store)


# -- ChangeStreamStatus -------------------------------------------------------------------

def change(store: EventStore, owner: User, stream: Stream, status: S) -> int:
    cmd = ChangeStreamStatus(actor_id=owner.id, stream_id=stream.id, status=status)
    return change_stream_status(cmd, store).position


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], S.OFFLINE),
        ([], S.LIVE),
        ([], S.ARCHIVED),
        ([S.ENDING], S.OFFLINE),
        ([S.ENDING], S.LIVE),
        ([S.ENDING], S.ENDING),
        ([S.ENDING, S.ARCHIVED], S.OFFLINE),
        ([S.ENDING, S.ARCHIVED], S.LIVE),
        ([S.ENDING, S.ARCHIVED], S.ENDING),
        ([S.ENDING, S.ARCHIVED], S.ARCHIVED),
    ],
)
def test_illegal_status_changes_are_conflicts(
    store: EventStore, world: World, owner: User, channel: Channel, path: list[S], target: S
) -> None:
    stream = world.live_stream(channel)
    for status in path:
        change(store, owner, stream, status)
    head = store.head()
    before = store.get(stream.id, Stream).status
    with pytest.raises(Conflict) as info:
        change(store, owner, stream, target)
    assert info.value.field == "status"
    assert store.head() == head
    assert store.get(stream.id, Stream).status is before


def test_ending_frees_the_channel_and_archiving_follows(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    stream = world.live_stream(channel)
    head = store.head()
    assert change(store, owner, stream, S.ENDING) == store.head()
    assert store.get(channel.id, Channel).current_stream_id is None
    assert change(store, owner, stream, S.ARCHIVED) == store.head()
    assert sorted(e.type for e in world.log(head)) == [
        "Channel.WentOffline", "Stream.Archived", "Stream.Ended"
    ]
    assert store.get(stream.id, Stream).status is S.ARCHIVED
    # the channel is free for a new stream
    assert world.live_stream(channel).status is S.LIVE


def test_offline_stream_goes_live_through_change_status(
    store: EventStore, owner: User, channel: Channel
) -> None:
    stream = Stream(channel_id=channel.id, owner_id=owner.id, title="prepared")
    store.save(stream)
    change(store, owner, stream, S.LIVE)
    assert store.get(stream.id, Stream).status is S.LIVE
    assert store.get(channel.id, Channel).current_stream_id == stream.id


def test_offline_stream_cannot_go_live_while_another_is_live(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    live = world.live_stream(channel)
    prepared = Stream(channel_id=channel.id, owner_id=owner.id, title="prepared")
    store.save(prepared)
    head = store.head()
    with pytest.raises(Conflict) as info:
        change(store, owner, prepared, S.LIVE)
    assert info.value.field == "channelId"
    assert store.head() == head
    assert store.get(prepared.id, Stream).status is S.OFFLINE
    assert store.get(channel.id, Channel).current_stream_id == live.id


def test_change_status_by_a_non_owner_is_forbidden(
    store: EventStore, world: World, channel: Channel
) -> None:
    stream = world.live_stream(channel)
    mod = world.user("mod")
    world.grant(channel, mod)
    with pytest.raises(Forbidden):
        change(store, mod, stream, S.ENDING)
    assert store.get(stream.id, Stream).status is S.LIVE
