"""RefuseIngest: the channel's encoder sends far above the top rendition's bitrate and is
being dropped; recorded on its live stream, so the owner can see why."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.actors import SystemActor
from commands.ports import Store
from domain.channel import Channel
from domain.stream import Stream


class RefuseIngest(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: SystemActor
    channel_id: UUID
    provider: str
    bitrate_kbps: float
    limit_kbps: float


def refuse_ingest(cmd: RefuseIngest, store: Store) -> int:
    """The position of the record; 0 when the channel has no live stream to record it on."""
    stream_id = store.get(cmd.channel_id, Channel).current_stream_id
    if stream_id is None:
        return 0
    stream = store.get(stream_id, Stream)
    if not stream.is_live:
        return 0
    stream.refuse_ingest(cmd.provider, cmd.bitrate_kbps, cmd.limit_kbps)
    return store.save(stream)
