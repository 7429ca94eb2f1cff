"""Stream ingest: per stream, where viewers watch (provider, playback id, HLS URL) and
whether its encoder is connected or within a reconnect grace. Rows of the stream_status
projection (one projector, one transaction, so a stream and its ingest never disagree)."""

from __future__ import annotations

from typing import Any

from infra.database import Database, Tx
from infra.envelope import EventEnvelope

INGEST_TYPES = ("Stream.PlaybackAssigned", "Stream.IngestDisconnected",
                "Stream.IngestReconnected", "Stream.RecordingReady")
INGEST_TABLE = "stream_ingest"
INGEST_DDL = [
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
]
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
    if e.type == "Stream.PlaybackAssigned":
        tx.execute("UPDATE stream_ingest SET provider = ?, playback_id = ?, hls_url = ?, "
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
    if view.get("status") != "LIVE":
        fields["hlsUrl"] = None
    return {**view, **fields}


def pending_graces(db: Database) -> list[dict[str, Any]]:
    """Streams whose encoder is gone and whose grace has not been acted on, soonest first."""
    return db.fetch_all(
        "SELECT i.stream_id, i.grace_until FROM stream_ingest i JOIN streams s "
        "ON s.id = i.stream_id WHERE i.state = 'disconnected' AND s.status = 'LIVE' "
        "ORDER BY i.grace_until")
