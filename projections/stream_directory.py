"""Stream directory: streams by status, the most watched first, then the newest; only
streams of public channels. Its rows come from the events alone (a rebuild gives the same
order); the items are presented by stream_status's view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.base import Projection
from projections.keyset import after_key, decode_cursor, keyset_page, order_by
from projections.ports import Database, EventEnvelope, Tx
from projections.stream_status import get_stream

# The most watched first, then the newest (a stream's creation position is unique).
ORDER = (("viewer_count", True), ("position", True))
CURSOR_KINDS = (int, int)
# A prepared stream ended before it aired is discarded: archived, without a recording.
_STATUS = {"Stream.Started": "LIVE", "Stream.Ended": "ENDING", "Stream.Archived": "ARCHIVED",
           "Stream.Discarded": "ARCHIVED"}


class StreamDirectory(Projection):
    """One row per stream (status, viewers, creation position), and whether each channel
    is public (a private channel's streams are not listed)."""

    name = "stream_directory"
    types = ("Channel.Created", "Channel.Updated", "Stream.Created", *_STATUS,
             "Stream.ViewerCountSampled")
    tables = ("stream_directory", "stream_directory_channels")
    ddl = [
        """CREATE TABLE IF NOT EXISTS stream_directory (
            stream_id TEXT PRIMARY KEY,
            channel_id TEXT NOT NULL,
            status TEXT NOT NULL,
            listed INTEGER NOT NULL,
            viewer_count BIGINT NOT NULL DEFAULT 0,
            position BIGINT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS stream_directory_order ON stream_directory "
        "(status, viewer_count, position)",
        "CREATE INDEX IF NOT EXISTS stream_directory_channel ON stream_directory (channel_id)",
        """CREATE TABLE IF NOT EXISTS stream_directory_channels (
            channel_id TEXT PRIMARY KEY,
            is_public INTEGER NOT NULL
        )""",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            d, aid = e.data, e.aggregate_id
            if e.type == "Channel.Created":
                tx.execute("INSERT INTO stream_directory_channels (channel_id, is_public) "
                           "VALUES (?, ?) ON CONFLICT (channel_id) DO NOTHING",
                           (aid, int(d["is_public"])))
            elif e.type == "Channel.Updated":
                if d.get("is_public") is not None:
                    public = int(d["is_public"])
                    tx.execute("UPDATE stream_directory_channels SET is_public = ? "
                               "WHERE channel_id = ?", (public, aid))
                    tx.execute("UPDATE stream_directory SET listed = ? WHERE channel_id = ?",
                               (public, aid))
            elif e.type == "Stream.Created":
                row = tx.fetch_one("SELECT is_public FROM stream_directory_channels "
                                   "WHERE channel_id = ?", (d["channel_id"],))
                tx.execute(
                    "INSERT INTO stream_directory (stream_id, channel_id, status, listed, "
                    "position) VALUES (?, ?, 'OFFLINE', ?, ?) ON CONFLICT (stream_id) DO NOTHING",
                    (aid, d["channel_id"], int(row["is_public"]) if row else 1, e.position))
            elif e.type in _STATUS:
                # Only a live stream has viewers: the count goes with it when it ends.
                tx.execute("UPDATE stream_directory SET status = ?, viewer_count = 0 "
                           "WHERE stream_id = ?", (_STATUS[e.type], aid))
            elif e.type == "Stream.ViewerCountSampled":
                tx.execute("UPDATE stream_directory SET viewer_count = ? WHERE stream_id = ? "
                           "AND status = 'LIVE'", (int(d["count"]), aid))


def list_streams(db: Database, *, status: str | None = None, cursor: str | None = None,
                 limit: int = 20) -> tuple[list[dict[str, Any]], str | None]:
    """Listed streams (of one status, or all), as `GET /api/streams/{id}` shows each."""
    where, params = ["listed = 1"], []
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if cursor is not None:
        condition, key_params = after_key(ORDER, decode_cursor(cursor, CURSOR_KINDS))
        where.append(condition)
        params.extend(key_params)
    rows = db.fetch_all(
        f"SELECT stream_id, viewer_count, position FROM stream_directory "
        f"WHERE {' AND '.join(where)} {order_by(ORDER)} LIMIT ?", (*params, limit + 1))
    rows, next_cursor = keyset_page(rows, limit, lambda r: (int(r["viewer_count"]),
                                                            int(r["position"])))
    views = (get_stream(db, r["stream_id"]) for r in rows)
    return [v for v in views if v is not None], next_cursor
