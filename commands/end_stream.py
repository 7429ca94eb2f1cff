"""EndStream: the owner ends a LIVE stream (LIVE -> ENDING); the channel is free again."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.stream import Stream


class EndStream(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    stream_id: UUID


class StreamEnded(msgspec.Struct, frozen=True, kw_only=True):
    stream: Stream
    position: int


def end_stream(cmd: EndStream, store: Store) -> StreamEnded:
    stream = store.get(cmd.stream_id, Stream)
    channel = store.get(stream.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    stream.end(datetime.now(UTC))
    channel.go_offline(stream.id)
    return StreamEnded(stream=stream, position=store.save(stream, channel))
