"""ChangeStreamStatus: the owner moves a stream one step along
OFFLINE -> LIVE -> ENDING -> ARCHIVED; anything else is a conflict."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.actors import Actor, require_owner_or_system
from commands.ports import Store
from domain.channel import Channel
from domain.stream import Stream, StreamStatus


class ChangeStreamStatus(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: Actor
    stream_id: UUID
    status: StreamStatus


class StreamStatusChanged(msgspec.Struct, frozen=True, kw_only=True):
    stream: Stream
    position: int


def change_stream_status(cmd: ChangeStreamStatus, store: Store) -> StreamStatusChanged:
    stream = store.get(cmd.stream_id, Stream)
    channel = store.get(stream.channel_id, Channel)
    require_owner_or_system(channel, cmd.actor_id)
    stream.move_to(cmd.status, datetime.now(UTC))
    if cmd.status is StreamStatus.LIVE:
        channel.go_live(stream.id)
    elif cmd.status is StreamStatus.ENDING:
        channel.go_offline(stream.id)
    return StreamStatusChanged(stream=stream, position=store.save(stream, channel))
