"""Stream ingest: per stream, where viewers watch (provider, playback id, HLS URL) and
whether its encoder is connected or within a reconnect grace. Rows of the stream_status
projection (one projector, one transaction, so a stream and its ingest never disagree)."""

from __future__ import annotations

from typing import Any

from projections.ports import Database, EventEnvelope, Tx

INGEST_TYPES = ("Stream.PlaybackAssigned", "Stream.IngestDisconnected",
                "Stream.IngestReconnected", "Stream.RecordingReady", "Stream.IngestStarting")
INGEST_TABLE = "stream_ingest"
RECORDINGS_TABLE = "stream_recordings"
INGEST_DDL = [
    # Every part of a stream's recording: an encoder that reconnects within the grace
    # makes nginx-rtmp start a new file, and the archive keeps them all, in order.
    """CREATE TABLE IF NOT EXISTS stream_recordings (
        stream_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        recording_path TEXT,
        vod_url TEXT,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (stream_id, position)
    )""",
    """CREATE TABLE IF NOT EXISTS stream_ingest (
        stream_id TEXT PRIMARY KEY,
        channel_id TEXT NOT NULL,
        provider TEXT,
        playback_id TEXT,
        hls_url TEXT,
        state TEXT NOT NULL,
        disconnected_at TEXT,
        grace_until TEXT,
        recording_path TEXT,
        vod_url TEXT,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS stream_ingest_state ON stream_ingest (state, grace_until)",
    # The whole broadcast as one video, once its parts are joined and stored.
    """CREATE TABLE IF NOT EXISTS stream_vods (
        stream_id TEXT PRIMARY KEY,
        recording_path TEXT NOT NULL,
        vod_url TEXT NOT NULL,
        duration_s DOUBLE PRECISION NOT NULL,
        parts INTEGER NOT NULL,
        published_at TEXT NOT NULL
    )""",
]
VODS_TABLE = "stream_vods"
_UPSERT = (
    "INSERT INTO stream_ingest (stream_id, channel_id, state, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (stream_id) DO NOTHING"
)


def apply_ingest(tx: Tx, e: EventEnvelope) -> None:
    """Writes one event's effect on the stream's ingest row (idempotent per event)."""
    d, sid, ts = e.data, e.aggregate_id, e.timestamp
    if e.type == "Stream.Ended":
        tx.execute("UPDATE stream_ingest SET state = 'ended', grace_until = NULL, "
                   "updated_at = ? WHERE stream_id = ?", (ts, sid))
        return
    tx.execute(_UPSERT, (sid, d["channel_id"], "connected", ts))
    if e.type == "Stream.IngestStarting":
        tx.execute("UPDATE stream_ingest SET provider = ?, state = 'starting', updated_at = ? "
                   "WHERE stream_id = ?", (d["provider"], ts, sid))
    elif e.type == "Stream.PlaybackAssigned":
        # A provider that was still starting is playable from here on.
        tx.execute("UPDATE stream_ingest SET provider = ?, playback_id = ?, hls_url = ?, "
                   "state = CASE WHEN state = 'starting' THEN 'connected' ELSE state END, "
                   "updated_at = ? WHERE stream_id = ?",
                   (d["provider"], d["playback_id"], d["hls_url"], ts, sid))
    elif e.type == "Stream.IngestDisconnected":
        tx.execute("UPDATE stream_ingest SET provider = COALESCE(provider, ?), "
                   "state = 'disconnected', disconnected_at = ?, grace_until = ?, "
                   "updated_at = ? WHERE stream_id = ?",
                   (d["provider"], ts, d["grace_until"], ts, sid))
    elif e.type == "Stream.IngestReconnected":
        tx.execute("UPDATE stream_ingest SET state = 'connected', disconnected_at = NULL, "
                   "grace_until = NULL, updated_at = ? WHERE stream_id = ?", (ts, sid))
    elif e.type == "Stream.RecordingReady":
        tx.execute("UPDATE stream_ingest SET recording_path = ?, vod_url = ?, updated_at = ? "
                   "WHERE stream_id = ?", (d.get("recording_path"), d.get("vod_url"), ts, sid))
        add_recording(tx, e)


def add_recording(tx: Tx, e: EventEnvelope) -> None:
    """Keeps a recording part (from RecordingReady or Archived) unless it is one the stream
    already has: archiving after the grace repeats the last part."""
    path, vod = e.data.get("recording_path"), e.data.get("vod_url")
    if path is None and vod is None:
        return
    seen = tx.fetch_one(
        "SELECT 1 AS x FROM stream_recordings WHERE stream_id = ? AND "
        "COALESCE(recording_path, '') = ? AND COALESCE(vod_url, '') = ?",
        (e.aggregate_id, path or "", vod or ""))
    if seen is None:
        tx.execute("INSERT INTO stream_recordings (stream_id, position, recording_path, vod_url, "
                   "recorded_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (stream_id, position) "
                   "DO NOTHING", (e.aggregate_id, e.position, path, vod, e.timestamp))


def recordings(tx_or_db: Tx | Database, stream_id: str) -> list[dict[str, Any]]:
    """The parts of a stream's recording, oldest first."""
    rows = tx_or_db.fetch_all(
        "SELECT recording_path, vod_url, recorded_at FROM stream_recordings "
        "WHERE stream_id = ? ORDER BY position", (stream_id,))
    return [{"recordingPath": r["recording_path"], "vodUrl": r["vod_url"],
             "recordedAt": r["recorded_at"]} for r in rows]


def ingest_fields(row: dict[str, Any] | None) -> dict[str, Any]:
    """The ingest part of a stream as clients see it."""
    if row is None:
        return {"hlsUrl": None, "ingest": None}
    return {
        "hlsUrl": row["hls_url"],
        "ingest": {
            "provider": row["provider"],
            "playbackId": row["playback_id"],
            "state": row["state"],
            "disconnectedAt": row["disconnected_at"],
            "graceUntil": row["grace_until"],
        },
    }


def with_ingest(tx_or_db: Tx | Database, view: dict[str, Any]) -> dict[str, Any]:
    """A stream view with its ingest fields (hlsUrl only while the stream is LIVE)."""
    row = tx_or_db.fetch_one("SELECT * FROM stream_ingest WHERE stream_id = ?", (view["id"],))
    fields = ingest_fields(row)
    fields["recordings"] = recordings(tx_or_db, view["id"])
    if view.get("status") != "LIVE":
        fields["hlsUrl"] = None
    return {**view, **fields}


def publish_vod(tx: Tx, e: EventEnvelope) -> None:
    """The joined VOD replaces the last part as the stream's recording; parts moved to the
    archive are shown where they went."""
    d = e.data
    rows = tx.fetch_all("SELECT position FROM stream_recordings WHERE stream_id = ? "
                        "AND recording_path IS NOT NULL ORDER BY position", (e.aggregate_id,))
    moved = zip(rows, d.get("part_paths") or [], d.get("part_urls") or [], strict=False)
    for row, path, url in moved:
        tx.execute("UPDATE stream_recordings SET recording_path = ?, vod_url = ? "
                   "WHERE stream_id = ? AND position = ?",
                   (path, url, e.aggregate_id, row["position"]))
    tx.execute("UPDATE streams SET recording_path = ?, vod_url = ?, updated_at = ?, "
               "position = ? WHERE id = ?",
               (d["recording_path"], d["vod_url"], e.timestamp, e.position, e.aggregate_id))
    tx.execute("INSERT INTO stream_vods (stream_id, recording_path, vod_url, duration_s, parts, "
               "published_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stream_id) DO NOTHING",
               (e.aggregate_id, d["recording_path"], d["vod_url"], float(d["duration_s"]),
                int(d["parts"]), e.timestamp))


def pending_graces(db: Database) -> list[dict[str, Any]]:
    """Streams whose encoder is gone and whose grace (ours: a provider that ends the stream
    itself sets none) has not been acted on, soonest first."""
    return db.fetch_all(
        "SELECT i.stream_id, i.grace_until FROM stream_ingest i JOIN streams s "
        "ON s.id = i.stream_id WHERE i.state = 'disconnected' AND s.status = 'LIVE' "
        "AND i.grace_until IS NOT NULL ORDER BY i.grace_until")


def vods_to_publish(db: Database, provider: str) -> list[dict[str, Any]]:
    """Archived streams of `provider` with recording parts and no joined VOD yet, oldest
    first, each with its parts in order."""
    rows = db.fetch_all(
        "SELECT s.id FROM streams s JOIN stream_ingest i ON i.stream_id = s.id "
        "WHERE s.status = 'ARCHIVED' AND i.provider = ? AND NOT EXISTS "
        "(SELECT 1 FROM stream_vods v WHERE v.stream_id = s.id) AND EXISTS "
        "(SELECT 1 FROM stream_recordings r WHERE r.stream_id = s.id "
        "AND r.recording_path IS NOT NULL) ORDER BY s.updated_at", (provider,))
    return [{"stream_id": r["id"], "parts": [p["recordingPath"] for p in recordings(db, r["id"])
                                             if p["recordingPath"]]} for r in rows]


def live_streams_of(db: Database, provider: str) -> list[dict[str, Any]]:
    """LIVE streams of `provider` that have a playlist, with their current thumbnail."""
    return db.fetch_all(
        "SELECT s.id, i.hls_url, d.thumbnail_url FROM streams s JOIN stream_ingest i "
        "ON i.stream_id = s.id LEFT JOIN stream_details d ON d.stream_id = s.id "
        "WHERE s.status = 'LIVE' AND i.provider = ? AND i.hls_url IS NOT NULL "
        "AND i.state = 'connected'", (provider,))
