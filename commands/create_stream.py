"""CreateStream: the owner prepares a stream OFFLINE (title, description, category) for the
next go-live, by hand or by an encoder's publish, to start. One prepared stream per channel."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.create_channel import clean_category
from commands.ports import Store
from domain.channel import Channel
from domain.stream import Stream, clean_stream_description, clean_title


class CreateStream(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    title: str | None = None
    description: str | None = None
    category: str | None = None  # None: the channel's


class StreamCreated(msgspec.Struct, frozen=True, kw_only=True):
    stream: Stream
    position: int


def create_stream(cmd: CreateStream, store: Store) -> StreamCreated:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    stream = Stream(channel_id=channel.id, owner_id=channel.owner_id,
                    title=clean_title(cmd.title),
                    description=clean_stream_description(cmd.description),
                    category=channel.category if cmd.category is None
                    else clean_category(cmd.category))
    channel.prepare_stream(stream.id)
    # Saved together: the channel's version guards against a concurrent prepare or go-live.
    return StreamCreated(stream=stream, position=store.save(channel, stream))
