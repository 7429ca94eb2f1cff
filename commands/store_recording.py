"""StoreRecording: the recording (nginx-rtmp's file) or the provider's asset of a stream is
ready. An ENDING stream is archived with it; a stream still within its reconnect grace
keeps it for the archive; `final` (the provider says the broadcast is over) ends a LIVE
stream first."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from commands.actors import SystemActor
from commands.ingest_connected import IngestResult
from commands.ports import Store
from domain.channel import Channel
from domain.stream import Stream, StreamStatus


class StoreRecording(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: SystemActor
    stream_id: UUID
    recording_path: str | None = None
    vod_url: str | None = None
    final: bool = False
    thumbnail_url: str | None = None


def store_recording(cmd: StoreRecording, store: Store) -> IngestResult:
    stream = store.get(cmd.stream_id, Stream)
    if stream.status is StreamStatus.ARCHIVED:
        return IngestResult(stream=stream, position=0, outcome="already archived")
    touched: list[Aggregate] = [stream]
    if cmd.final and stream.status is StreamStatus.LIVE:
        stream.end(datetime.now(UTC))
        channel = store.get(stream.channel_id, Channel)
        channel.go_offline(stream.id)
        touched.append(channel)
    stream.recording_ready(cmd.recording_path, cmd.vod_url)
    if cmd.thumbnail_url:
        stream.change_thumbnail(cmd.thumbnail_url)
    outcome = "archived" if stream.status is StreamStatus.ARCHIVED else "recording kept"
    return IngestResult(stream=stream, position=store.save(*touched), outcome=outcome)
