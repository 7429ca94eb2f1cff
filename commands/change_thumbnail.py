"""ChangeThumbnail: a new picture of a live stream (a frame grabbed from it)."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.actors import SystemActor
from commands.ports import Store
from domain.stream import Stream, StreamStatus


class ChangeThumbnail(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: SystemActor
    stream_id: UUID
    thumbnail_url: str
    live_only: bool = True  # a frame of the live stream arriving after it ended is stale


def change_thumbnail(cmd: ChangeThumbnail, store: Store) -> int:
    """The position of the change; 0 when nothing changed (the same picture, or the stream
    is no longer live)."""
    stream = store.get(cmd.stream_id, Stream)
    if cmd.live_only and stream.status is not StreamStatus.LIVE:
        return 0
    return store.save(stream) if stream.change_thumbnail(cmd.thumbnail_url) else 0
