"""IngestConnected: an encoder is publishing to a channel. Starts a stream through GoLive
(as the system), or brings the current stream's encoder back within its reconnect grace,
or attaches the ingest's playback to a stream the owner already started by hand. A plan
that is not `ready` (the provider is still starting) goes live without a playlist."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.actors import SystemActor
from commands.go_live import GoLive, go_live
from commands.playback import PlaybackPlan, assign_playback
from commands.ports import Store
from domain.channel import Channel
from domain.stream import Stream


class IngestConnected(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: SystemActor
    channel_id: UUID
    playback: PlaybackPlan


class IngestResult(msgspec.Struct, frozen=True, kw_only=True):
    """What an ingest signal did: `outcome` is a short word for logs and receipts."""

    stream: Stream | None
    position: int
    outcome: str


def ingest_connected(cmd: IngestConnected, store: Store) -> IngestResult:
    channel = store.get(cmd.channel_id, Channel)
    if channel.current_stream_id is not None:
        stream = store.get(channel.current_stream_id, Stream)
        if stream.is_live:
            reconnected = stream.ingest_reconnect(cmd.playback.provider)
            attached = assign_playback(stream, cmd.playback)
            position = store.save(stream) if reconnected or attached else 0
            outcome = ("reconnected" if reconnected else "unchanged" if not attached
                       else "attached" if cmd.playback.ready else "starting")
            return IngestResult(stream=stream, position=position, outcome=outcome)
    started = go_live(GoLive(actor_id=cmd.actor_id, channel_id=channel.id, title=channel.name,
                             playback=cmd.playback), store)
    return IngestResult(stream=started.stream, position=started.position,
                        outcome="started" if cmd.playback.ready else "starting")
