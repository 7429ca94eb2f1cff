"""Ingest rules on the aggregates and commands: reconnect grace, recordings,
stream key claims and rotation, and the system actor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from commands.actors import SystemActor
from commands.end_stream import EndStream, end_stream
from commands.go_live import GoLive, go_live
from commands.ingest_connected import IngestConnected, ingest_connected
from commands.ingest_disconnected import IngestDisconnected, ingest_disconnected
from commands.ingest_key import channel_for_key
from commands.playback import PlaybackPlan
from commands.rotate_stream_key import RotateStreamKey, rotate_stream_key
from commands.store_recording import StoreRecording, store_recording
from domain.channel import Channel
from domain.errors import Conflict, Forbidden
from domain.stream import Stream, StreamStatus
from domain.user import User
from infra.eventstore.event_store import EventStore

from .support import World, event_names

SYSTEM = SystemActor("test")
PLAN = PlaybackPlan(provider="nginx-rtmp", hls_template="http://hls/{playback_id}.m3u8")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def live_stream() -> Stream:
    from uuid import uuid4

    stream = Stream(channel_id=uuid4(), owner_id=uuid4(), title="t")
    stream.start()
    stream.collect_events()
    return stream


def test_disconnect_keeps_live_until_the_grace_then_ends_and_archives_with_recording() -> None:
    stream = live_stream()
    assert stream.ingest_disconnect("mux", NOW, 10)
    assert not stream.ingest_disconnect("mux", NOW, 10)  # already disconnected: no new fact
    assert stream.status is StreamStatus.LIVE and not stream.grace_expired(NOW)
    with pytest.raises(Conflict):
        stream.end_after_grace(NOW + timedelta(seconds=9))
    stream.recording_ready("/rec/a.flv", "http://vod/a.flv")
    assert stream.status is StreamStatus.LIVE
    stream.end_after_grace(NOW + timedelta(seconds=10))
    assert stream.status is StreamStatus.ARCHIVED and stream.recording_path == "/rec/a.flv"
    assert event_names(stream.collect_events()) == [
        "Stream.IngestDisconnected", "Stream.RecordingReady", "Stream.Ended", "Stream.Archived"]


def test_reconnect_within_the_grace_cancels_it() -> None:
    stream = live_stream()
    stream.ingest_disconnect("nginx-rtmp", NOW, 1)
    assert stream.ingest_reconnect("nginx-rtmp")
    assert not stream.ingest_reconnect("nginx-rtmp")
    assert not stream.grace_expired(NOW + timedelta(hours=1))
    with pytest.raises(Conflict):
        stream.end_after_grace(NOW + timedelta(hours=1))


def test_ended_streams_take_no_playback_or_reconnect() -> None:
    stream = live_stream()
    stream.end(NOW)
    with pytest.raises(Conflict):
        stream.ingest_reconnect("mux")
    with pytest.raises(Conflict):
        stream.assign_playback("mux", "p", "u")
    assert not stream.ingest_disconnect("mux", NOW, 1)
    stream.recording_ready(None, "http://vod")
    assert stream.status is StreamStatus.ARCHIVED
    with pytest.raises(Conflict):
        stream.recording_ready(None, "http://vod")


def test_channel_for_key_is_exact_and_rotation_refuses_the_old_key(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    key = channel.stream_key
    assert channel_for_key(store, key).id == channel.id
    for bad in ("", key[:-1], key + "x", "x" * 1000, key.upper()):
        with pytest.raises(Forbidden) as refused:
            channel_for_key(store, bad)
        assert key not in refused.value.message
    rotated = rotate_stream_key(RotateStreamKey(actor_id=owner.id, channel_id=channel.id),
                                store).channel
    assert rotated.stream_key != key
    with pytest.raises(Forbidden):
        channel_for_key(store, key)
    assert channel_for_key(store, key, current_only=False).id == channel.id
    assert channel_for_key(store, rotated.stream_key).id == channel.id
    stranger = world.user("stranger")
    with pytest.raises(Forbidden):
        rotate_stream_key(RotateStreamKey(actor_id=stranger.id, channel_id=channel.id), store)


def test_system_actor_drives_the_same_commands_but_users_stay_owner_checked(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    stranger = world.user("stranger")
    with pytest.raises(Forbidden):
        go_live(GoLive(actor_id=stranger.id, channel_id=channel.id), store)
    started = ingest_connected(IngestConnected(actor_id=SYSTEM, channel_id=channel.id,
                                               playback=PLAN), store)
    assert started.outcome == "started"
    stream = started.stream
    assert stream is not None and stream.hls_url == f"http://hls/{stream.id}.m3u8"
    with pytest.raises(Forbidden):
        end_stream(EndStream(actor_id=stranger.id, stream_id=stream.id), store)
    gone = ingest_disconnected(IngestDisconnected(actor_id=SYSTEM, provider="nginx-rtmp",
                                                  grace_s=0, channel_id=channel.id), store)
    assert gone.outcome == "disconnected"
    back = ingest_connected(IngestConnected(actor_id=SYSTEM, channel_id=channel.id,
                                            playback=PLAN), store)
    assert back.outcome == "reconnected" and back.stream is not None
    assert back.stream.id == stream.id
    ingest_disconnected(IngestDisconnected(actor_id=SYSTEM, provider="nginx-rtmp",
                                           grace_s=0, channel_id=channel.id), store)
    end_stream(EndStream(actor_id=SYSTEM, stream_id=stream.id, after_grace=True), store)
    assert store.get(channel.id, Channel).current_stream_id is None
    done = store_recording(StoreRecording(actor_id=SYSTEM, stream_id=stream.id,
                                          recording_path="/r.flv", vod_url="http://v/r.flv"),
                           store)
    assert done.outcome == "archived"
    assert store.get(stream.id, Stream).status is StreamStatus.ARCHIVED


MUX_PLAN = PlaybackPlan(provider="mux", hls_template="https://stream/{playback_id}.m3u8",
                        playback_id="pb", thumbnail_template="https://img/{playback_id}.jpg")


def test_a_provider_that_keeps_its_own_window_sets_no_grace_of_ours() -> None:
    stream = live_stream()
    assert stream.ingest_disconnect("mux", NOW, None, provider_window_s=60)
    assert stream.grace_until is None and stream.status is StreamStatus.LIVE
    assert not stream.grace_expired(NOW + timedelta(days=1))  # only the provider ends it
    with pytest.raises(Conflict):
        stream.end_after_grace(NOW + timedelta(days=1))
    [event] = stream.collect_events()
    assert event.provider_window_s == 60 and event.grace_until is None


def test_the_old_disconnect_event_loads_with_no_provider_window() -> None:
    state = {"grace_until": NOW, "provider": "mux"}
    Stream.IngestDisconnected.upcast_v1_v2(state)
    assert state == {"grace_until": NOW, "provider": "mux", "provider_window_s": None}


def test_starting_goes_live_without_a_playlist_until_the_provider_is_active(
    store: EventStore, channel: Channel
) -> None:
    starting = ingest_connected(IngestConnected(
        actor_id=SYSTEM, channel_id=channel.id,
        playback=PlaybackPlan(**{**msgspec.structs.asdict(MUX_PLAN), "ready": False})), store)
    stream = starting.stream
    assert starting.outcome == "starting" and stream is not None
    assert stream.status is StreamStatus.LIVE and stream.hls_url is None
    assert stream.ingest_state == "starting" and stream.thumbnail_url is None
    again = ingest_connected(IngestConnected(  # `recording` after `connected`: no new fact
        actor_id=SYSTEM, channel_id=channel.id,
        playback=PlaybackPlan(**{**msgspec.structs.asdict(MUX_PLAN), "ready": False})), store)
    assert again.outcome == "unchanged" and again.position == 0
    active = ingest_connected(IngestConnected(actor_id=SYSTEM, channel_id=channel.id,
                                              playback=MUX_PLAN), store)
    assert active.outcome == "attached" and active.stream is not None
    assert active.stream.hls_url == "https://stream/pb.m3u8"
    assert active.stream.thumbnail_url == "https://img/pb.jpg"
    assert active.stream.ingest_state == "connected"
    # a late `connected` (webhooks come in any order) does not take the playlist away
    late = ingest_connected(IngestConnected(
        actor_id=SYSTEM, channel_id=channel.id,
        playback=PlaybackPlan(**{**msgspec.structs.asdict(MUX_PLAN), "ready": False})), store)
    assert late.outcome == "unchanged"
    assert store.get(stream.id, Stream).hls_url == "https://stream/pb.m3u8"


def test_thumbnails_change_only_when_new_and_never_before_going_live() -> None:
    from uuid import uuid4

    prepared = Stream(channel_id=uuid4(), owner_id=uuid4(), title="t")
    with pytest.raises(Conflict):
        prepared.change_thumbnail("https://img/a.jpg")
    stream = live_stream()
    assert stream.change_thumbnail("https://img/a.jpg")
    assert not stream.change_thumbnail("https://img/a.jpg") and not stream.change_thumbnail("")
    stream.end(NOW)
    stream.archive("/r.flv", "http://v/r.flv")
    assert stream.change_thumbnail("https://img/vod.jpg")  # the VOD's own picture


def test_the_whole_vod_is_published_once_and_only_for_an_archived_stream() -> None:
    stream = live_stream()
    with pytest.raises(Conflict):
        stream.publish_vod("/v.mp4", "http://v/v.mp4", 12.0, 2)
    stream.end(NOW)
    stream.archive("/r2.flv", "http://v/r2.flv")
    stream.publish_vod("/v.mp4", "http://v/v.mp4", 12.0, 2)
    assert (stream.recording_path, stream.vod_url) == ("/v.mp4", "http://v/v.mp4")
    with pytest.raises(Conflict):
        stream.publish_vod("/v.mp4", "http://v/v.mp4", 12.0, 2)


def test_a_refused_encoder_is_recorded_only_on_a_live_stream() -> None:
    stream = live_stream()
    stream.refuse_ingest("nginx-rtmp", 1500.04, 492.0)
    [event] = stream.collect_events()
    assert (event.bitrate_kbps, event.limit_kbps) == (1500.0, 492.0)
    stream.end(NOW)
    with pytest.raises(Conflict):
        stream.refuse_ingest("nginx-rtmp", 1500, 492)
