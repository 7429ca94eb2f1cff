"""EndStream: the owner ends a LIVE stream (LIVE -> ENDING); the channel is free again.
A prepared stream that never went live is discarded instead (OFFLINE -> ARCHIVED), so the
channel may prepare another."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.actors import Actor, require_owner_or_system
from commands.ports import Store
from domain.channel import Channel
from domain.stream import Stream, StreamStatus


class EndStream(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: Actor
    stream_id: UUID
    # The reconnect-grace worker ends only a stream whose grace ran out; the check is made
    # on the aggregate, so a reconnect that just landed wins over a stale read model.
    after_grace: bool = False


class StreamEnded(msgspec.Struct, frozen=True, kw_only=True):
    stream: Stream
    position: int


def end_stream(cmd: EndStream, store: Store) -> StreamEnded:
    stream = store.get(cmd.stream_id, Stream)
    channel = store.get(stream.channel_id, Channel)
    require_owner_or_system(channel, cmd.actor_id)
    if cmd.after_grace:
        stream.end_after_grace(datetime.now(UTC))
    elif stream.status is StreamStatus.OFFLINE:
        stream.discard(datetime.now(UTC))
        channel.discard_prepared(stream.id)
    else:
        stream.end_by_owner(datetime.now(UTC))
    channel.go_offline(stream.id)
    return StreamEnded(stream=stream, position=store.save(stream, channel))
