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


class StreamDetails(msgspec.Struct, rename="camel", kw_only=True):
    """What every answer about a stream says of it, live or archived."""

    id: str
    channel_id: str
    owner_id: str
    title: str
    description: str
    category: str | None
    status: str  # OFFLINE (prepared, not started), LIVE, ENDING, ARCHIVED
    start_time: str | None
    end_time: str | None
    duration: int | None
    viewer_count: int
    peak_viewers: int
    recording_path: str | None
    vod_url: str | None
    is_archived: bool
    thumbnail_url: str | None  # null until the ingest provides one
    created_at: str
    updated_at: str


class Stream(StreamDetails, kw_only=True):
    """A stream: status, times, viewers and peak, recording, and where to play it
    (`hlsUrl`, only while it is LIVE)."""

    hls_url: str | None
    ingest: StreamIngest | None
    recordings: list[StreamRecording]


class StreamChange(Stream, kw_only=True):
    """A stream as a command (create, start, status change, end) left it, and the position
    to pass as `?after=` to read it back."""

    position: int


class StreamPlayback(msgspec.Struct, rename="camel", kw_only=True):
    """Where a LIVE stream plays: its HLS playlist, the provider serving it, the qualities
    the ingest offers."""

    stream_id: str
    channel_id: str
    status: str
    hls_url: str
    provider: str | None
    playback_id: str | None
    qualities: list[str]
