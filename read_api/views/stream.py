"""Streams: a stream as `GET /api/streams/{id}` shows it (`projections/stream_status.py`'s
view with its ingest fields)."""

from __future__ import annotations

import msgspec


class StreamIngest(msgspec.Struct, rename="camel", kw_only=True):
    """The encoder's side of a stream, as the ingest provider reported it."""

    provider: str | None
    playback_id: str | None
    state: str | None
    disconnected_at: str | None
    grace_until: str | None


class StreamRecording(msgspec.Struct, rename="camel", kw_only=True):
    """One part of a stream's recording (one per encoder connection)."""

    recording_path: str | None
    vod_url: str | None
    recorded_at: str


class Stream(msgspec.Struct, rename="camel", kw_only=True):
    """A stream: status, times, viewers and peak, recording, and where to play it
    (`hlsUrl`, only while it is LIVE)."""

    id: str
    channel_id: str
    owner_id: str
    title: str
    status: str
    start_time: str | None
    end_time: str | None
    duration: int | None
    viewer_count: int
    peak_viewers: int
    recording_path: str | None
    vod_url: str | None
    is_archived: bool
    created_at: str
    updated_at: str
    hls_url: str | None
    ingest: StreamIngest | None
    recordings: list[StreamRecording]
