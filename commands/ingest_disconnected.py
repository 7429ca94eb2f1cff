"""IngestDisconnected: the encoder of a channel's live stream went away. The stream stays
LIVE for the reconnect grace (the reconnect-grace worker ends it if nobody comes back), or,
with no grace (`grace_s` None), until the provider says the broadcast is over."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.actors import SystemActor
from commands.ingest_connected import IngestResult
from commands.ports import Store
from domain.channel import Channel
from domain.stream import Stream


class IngestDisconnected(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: SystemActor
    provider: str
    grace_s: float | None  # None: the provider ends the stream (Mux's `idle`)
    provider_window_s: float | None = None
    channel_id: UUID | None = None  # its current stream, or
    stream_id: UUID | None = None  # this one


def ingest_disconnected(cmd: IngestDisconnected, store: Store) -> IngestResult:
    stream_id = cmd.stream_id
    if stream_id is None and cmd.channel_id is not None:
        stream_id = store.get(cmd.channel_id, Channel).current_stream_id
    if stream_id is None:
        return IngestResult(stream=None, position=0, outcome="no live stream")
    stream = store.get(stream_id, Stream)
    if not stream.ingest_disconnect(cmd.provider, datetime.now(UTC), cmd.grace_s,
                                   cmd.provider_window_s):
        return IngestResult(stream=stream, position=0, outcome="unchanged")
    return IngestResult(stream=stream, position=store.save(stream), outcome="disconnected")
