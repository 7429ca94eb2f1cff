"""GoLive: the owner (or an encoder's publish) takes the channel live: the stream prepared
with CreateStream if there is one (with the details it was prepared with), else a new one.
One LIVE stream per channel at a time."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.actors import Actor, require_owner_or_system
from commands.playback import PlaybackPlan, assign_playback
from commands.ports import Store
from domain.channel import Channel
from domain.stream import Stream, clean_title


class GoLive(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: Actor
    channel_id: UUID
    title: str | None = None
    playback: PlaybackPlan | None = None  # set when an ingest starts the stream


class WentLive(msgspec.Struct, frozen=True, kw_only=True):
    stream: Stream
    position: int


def go_live(cmd: GoLive, store: Store) -> WentLive:
    channel = store.get(cmd.channel_id, Channel)
    require_owner_or_system(channel, cmd.actor_id)
    if channel.prepared_stream_id is not None and channel.current_stream_id is None:
        stream = store.get(channel.prepared_stream_id, Stream)
    else:
        stream = Stream(channel_id=channel.id, owner_id=channel.owner_id,
                        title=clean_title(cmd.title), category=channel.category)
    channel.go_live(stream.id)
    stream.start()
    if cmd.playback is not None:
        assign_playback(stream, cmd.playback)
    # Saved together: the channel's version guards against a concurrent GoLive.
    return WentLive(stream=stream, position=store.save(channel, stream))
