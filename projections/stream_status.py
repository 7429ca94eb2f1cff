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
    VODS_TABLE,
    add_recording,
    apply_ingest,
    publish_vod,
    with_ingest,
)

# The stream's own details beside its row: a table of its own, so a read model made before
# streams had them needs no migration (its older events have none to fill in).
DETAILS_TABLE = "stream_details"
_STREAM_SQL = (
    "SELECT s.id, s.channel_id, s.owner_id, s.title, s.status, s.started_at, s.ended_at, "
    "s.duration_s, s.viewer_count, s.peak_viewers, s.recording_path, s.vod_url, "
    "s.created_at, s.updated_at, s.position, d.description, d.category, d.thumbnail_url "
    f"FROM streams s LEFT JOIN {DETAILS_TABLE} d ON d.stream_id = s.id "
)


def stream_view(row: dict) -> dict:
    """A stream as clients see it (without its ingest fields: `with_ingest` adds them)."""
    return {
        "id": row["id"],
        "channelId": row["channel_id"],
        "ownerId": row["owner_id"],
        "title": row["title"],
        "description": row.get("description") or "",
        "category": row.get("category"),
        "status": row["status"],
        "startTime": row["started_at"],
        "endTime": row["ended_at"],
        "duration": row["duration_s"],
        "viewerCount": row["viewer_count"],
        "peakViewers": row["peak_viewers"],
        "recordingPath": row["recording_path"],
        "vodUrl": row["vod_url"],
        "isArchived": row["status"] == "ARCHIVED",
        "thumbnailUrl": row.get("thumbnail_url"),
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


class StreamStatusProjection(Projection):
    name = "stream_status"
    types = ("Stream.Created", "Stream.Started", "Stream.Ended", "Stream.Archived",
             "Stream.ViewerCountSampled", "Stream.Discarded", "Channel.StreamPrepared",
             "Stream.ThumbnailChanged", "Stream.VodPublished", *INGEST_TYPES)  # ingest
    tables = ("streams", "channel_status", INGEST_TABLE, RECORDINGS_TABLE, DETAILS_TABLE,
              "channel_prepared_streams", VODS_TABLE)
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
        f"""CREATE TABLE IF NOT EXISTS {DETAILS_TABLE} (
            stream_id TEXT PRIMARY KEY,
            description TEXT NOT NULL,
            category TEXT,
            thumbnail_url TEXT
        )""",
        # The stream each channel has prepared (OFFLINE, not yet started), if any.
        """CREATE TABLE IF NOT EXISTS channel_prepared_streams (
            channel_id TEXT PRIMARY KEY,
            stream_id TEXT NOT NULL
        )""",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            d, sid, ts = e.data, e.aggregate_id, e.timestamp
            if e.type in INGEST_TYPES or e.type == "Stream.Ended":
                apply_ingest(tx, e)
            if e.type == "Stream.ThumbnailChanged":
                tx.execute(f"UPDATE {DETAILS_TABLE} SET thumbnail_url = ? WHERE stream_id = ?",
                           (d["thumbnail_url"], sid))
                tx.execute("UPDATE streams SET updated_at = ?, position = ? WHERE id = ?",
                           (ts, e.position, sid))
                continue
            if e.type == "Stream.VodPublished":
                publish_vod(tx, e)
                continue
            if e.type == "Stream.Created":
                tx.execute(
                    "INSERT INTO streams (id, channel_id, owner_id, title, status, created_at, "
                    "updated_at, position) VALUES (?, ?, ?, ?, 'OFFLINE', ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    (sid, d["channel_id"], d["owner_id"], d["title"], ts, ts, e.position))
                tx.execute(f"INSERT INTO {DETAILS_TABLE} (stream_id, description, category) "
                           "VALUES (?, ?, ?) ON CONFLICT (stream_id) DO NOTHING",
                           (sid, d.get("description") or "", d.get("category")))
                continue
            if e.type == "Channel.StreamPrepared":
                tx.execute("INSERT INTO channel_prepared_streams (channel_id, stream_id) "
                           "VALUES (?, ?) ON CONFLICT (channel_id) DO UPDATE "
                           "SET stream_id = excluded.stream_id", (sid, d["stream_id"]))
                continue
            if e.type in ("Stream.Started", "Stream.Discarded"):
                tx.execute("DELETE FROM channel_prepared_streams WHERE channel_id = ? "
                           "AND stream_id = ?", (d["channel_id"], sid))
            if e.type == "Stream.Discarded":
                tx.execute("UPDATE streams SET status = 'ARCHIVED', ended_at = ?, "
                           "duration_s = 0, updated_at = ?, position = ? WHERE id = ?",
                           (ts, ts, e.position, sid))
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
    """The channel's newest stream that went live and is not archived yet (a prepared one,
    still OFFLINE, has no recording to wait for)."""
    row = db.fetch_one(
        "SELECT id FROM streams WHERE channel_id = ? AND status IN ('LIVE', 'ENDING') "
        "ORDER BY created_at DESC LIMIT 1", (str(channel_id),))
    return UUID(row["id"]) if row else None


def current_stream_of(db: Database, channel_id: str) -> str | None:
    """The channel's live (or ending) stream, if it has one."""
    row = db.fetch_one("SELECT current_stream_id FROM channel_status WHERE channel_id = ?",
                       (channel_id,))
    return row["current_stream_id"] if row else None


def prepared_stream_of(db: Database, channel_id: str) -> str | None:
    """The channel's prepared stream (created OFFLINE, not started yet), if it has one."""
    row = db.fetch_one("SELECT stream_id FROM channel_prepared_streams WHERE channel_id = ?",
                       (channel_id,))
    return row["stream_id"] if row else None


def get_stream(db: Database, stream_id: str) -> dict[str, Any] | None:
    """A stream as `GET /api/streams/{id}` answers it; listings of streams use it too."""
    row = db.fetch_one(_STREAM_SQL + "WHERE s.id = ?", (stream_id,))
    return with_ingest(db, stream_view(row)) if row else None  # hlsUrl, ingest


def archived_streams(db: Database, channel_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """A channel's streams that aired and ended, newest first, with their details
    (description, category, thumbnail): its past streams and VODs."""
    rows = db.fetch_all(
        _STREAM_SQL + "WHERE s.channel_id = ? AND s.status = 'ARCHIVED' "
        # A prepared stream discarded before it went live never aired: it is no VOD.
        "AND s.started_at IS NOT NULL ORDER BY s.ended_at DESC LIMIT ?", (channel_id, limit))
    return [stream_view(r) for r in rows]


def stream_views(db: Database, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Streams for several ids, in the order given (ids it has not got are left out)."""
    if not ids:
        return []
    rows = db.fetch_all(_STREAM_SQL + f"WHERE s.id IN ({', '.join('?' * len(ids))})",
                        tuple(ids))
    by_id = {row["id"]: row for row in rows}
    return [with_ingest(db, stream_view(by_id[i])) for i in ids if i in by_id]
