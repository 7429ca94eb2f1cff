"""RotateStreamKey: the owner replaces the channel's stream key; the old one stops working
at once (ingest compares against the channel's current key, read from the event store)."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.stream_key import StreamKeyClaim


class RotateStreamKey(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID


class StreamKeyRotated(msgspec.Struct, frozen=True, kw_only=True):
    channel: Channel
    position: int


def rotate_stream_key(cmd: RotateStreamKey, store: Store) -> StreamKeyRotated:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    channel.rotate_stream_key()
    # The claim for the new key is saved with the rotation, so the key works as soon as
    # the owner can read it.
    claim = StreamKeyClaim.claim(channel.stream_key, channel.id)
    return StreamKeyRotated(channel=channel, position=store.save(channel, claim))
