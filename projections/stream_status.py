"""Stream status: each stream's state, times, viewers and peak; each channel's live state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from projections.base import Projection
from projections.ports import Database, EventEnvelope, Tx
from projections.stream_ingest import (
    INGEST_DDL,
    INGEST_TABLE,
    INGEST_TYPES,
    RECORDINGS_TABLE,
    add_recording,
    apply_ingest,
    with_ingest,
)

STREAM_COLUMNS = (
    "id, channel_id, owner_id, title, status, started_at, ended_at, duration_s, "
    "viewer_count, peak_viewers, recording_path, vod_url, created_at, updated_at, position"
)


def stream_view(row: dict) -> dict:
    """A stream as clients see it."""
    return {
        "id": row["id"],
        "channelId": row["channel_id"],
        "ownerId": row["owner_id"],
        "title": row["title"],
        "status": row["status"],
        "startTime": row["started_at"],
        "endTime": row["ended_at"],
        "duration": row["duration_s"],
        "viewerCount": row["viewer_count"],
        "peakViewers": row["peak_viewers"],
        "recordingPath": row["recording_path"],
        "vodUrl": row["vod_url"],
        "isArchived": row["status"] == "ARCHIVED",
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


class StreamStatusProjection(Projection):
    name = "stream_status"
    types = ("Stream.Created", "Stream.Started", "Stream.Ended", "Stream.Archived",
             "Stream.ViewerCountSampled", *INGEST_TYPES)  # ingest
    tables = ("streams", "channel_status", INGEST_TABLE, RECORDINGS_TABLE)
    ddl = [
        """CREATE TABLE IF NOT EXISTS streams (
            id TEXT PRIMARY KEY,
            channel_id TEXT NOT NULL,
            owner_id TEXT NOT NULL,
            title TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at TEXT,
            ended_at TEXT,
            duration_s BIGINT,
            viewer_count BIGINT NOT NULL DEFAULT 0,
            peak_viewers BIGINT NOT NULL DEFAULT 0,
            recording_path TEXT,
            vod_url TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            position BIGINT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS streams_channel ON streams (channel_id, created_at)",
        """CREATE TABLE IF NOT EXISTS channel_status (
            channel_id TEXT PRIMARY KEY,
            is_live INTEGER NOT NULL DEFAULT 0,
            current_stream_id TEXT,
            last_stream_id TEXT,
            viewer_count BIGINT NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        )""",
        *INGEST_DDL,
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            d, sid, ts = e.data, e.aggregate_id, e.timestamp
            if e.type in INGEST_TYPES or e.type == "Stream.Ended":
                apply_ingest(tx, e)
            if e.type == "Stream.Created":
                tx.execute(
                    "INSERT INTO streams (id, channel_id, owner_id, title, status, created_at, "
                    "updated_at, position) VALUES (?, ?, ?, ?, 'OFFLINE', ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    (sid, d["channel_id"], d["owner_id"], d["title"], ts, ts, e.position))
                continue
            if e.type == "Stream.Started":
                tx.execute("UPDATE streams SET status = 'LIVE', started_at = ?, updated_at = ?, "
                           "position = ? WHERE id = ?", (ts, ts, e.position, sid))
                tx.execute(
                    "INSERT INTO channel_status (channel_id, is_live, current_stream_id, "
                    "last_stream_id, viewer_count, updated_at) VALUES (?, 1, ?, ?, 0, ?) "
                    "ON CONFLICT (channel_id) DO UPDATE SET is_live = 1, current_stream_id = "
                    "excluded.current_stream_id, last_stream_id = excluded.last_stream_id, "
                    "viewer_count = 0, updated_at = excluded.updated_at",
                    (d["channel_id"], sid, sid, ts))
            elif e.type == "Stream.Ended":
                tx.execute("UPDATE streams SET status = 'ENDING', ended_at = ?, duration_s = ?, "
                           "viewer_count = 0, updated_at = ?, position = ? WHERE id = ?",
                           (ts, d["duration_s"], ts, e.position, sid))
                tx.execute("UPDATE channel_status SET is_live = 0, current_stream_id = NULL, "
                           "viewer_count = 0, updated_at = ? WHERE channel_id = ? "
                           "AND current_stream_id = ?", (ts, d["channel_id"], sid))
            elif e.type == "Stream.Archived":
                tx.execute("UPDATE streams SET status = 'ARCHIVED', recording_path = ?, "
                           "vod_url = ?, updated_at = ?, position = ? WHERE id = ?",
                           (d.get("recording_path"), d.get("vod_url"), ts, e.position, sid))
                add_recording(tx, e)
            elif e.type == "Stream.ViewerCountSampled":
                count = int(d["count"])
                tx.execute("UPDATE streams SET viewer_count = ?, peak_viewers = CASE WHEN "
                           "peak_viewers > ? THEN peak_viewers ELSE ? END, updated_at = ?, "
                           "position = ? WHERE id = ?", (count, count, count, ts, e.position, sid))
                tx.execute("UPDATE channel_status SET viewer_count = ?, updated_at = ? "
                           "WHERE channel_id = ? AND current_stream_id = ?",
                           (count, ts, d["channel_id"], sid))


def latest_open_stream(db: Database, channel_id: UUID) -> UUID | None:
    """The channel's newest stream that is not archived yet."""
    row = db.fetch_one(
        "SELECT id FROM streams WHERE channel_id = ? AND status <> 'ARCHIVED' "
        "ORDER BY created_at DESC LIMIT 1", (str(channel_id),))
    return UUID(row["id"]) if row else None


def current_stream_of(db: Database, channel_id: str) -> str | None:
    """The channel's live (or ending) stream, if it has one."""
    row = db.fetch_one("SELECT current_stream_id FROM channel_status WHERE channel_id = ?",
                       (channel_id,))
    return row["current_stream_id"] if row else None


def get_stream(db: Database, stream_id: str) -> dict[str, Any] | None:
    row = db.fetch_one(f"SELECT {STREAM_COLUMNS} FROM streams WHERE id = ?", (stream_id,))
    return with_ingest(db, stream_view(row)) if row else None  # hlsUrl, ingest
