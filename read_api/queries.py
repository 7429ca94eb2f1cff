"""Read-model queries: plain SQL over the projections' tables, shaped for clients."""

from __future__ import annotations

from typing import Any

from infra.database import Database
from projections.base import loads
from projections.stream_ingest import with_ingest
from projections.stream_status import STREAM_COLUMNS, stream_view
from read_api.realtime.presenters import message_view


def get_stream(db: Database, stream_id: str) -> dict[str, Any] | None:
    row = db.fetch_one(f"SELECT {STREAM_COLUMNS} FROM streams WHERE id = ?", (stream_id,))
    return with_ingest(db, stream_view(row)) if row else None  # hlsUrl, ingest


def list_messages(
    db: Database, stream_id: str, *, before: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; `before` is the cursor (a position) from the previous page."""
    sql = (
        "SELECT id, stream_id, channel_id, user_id, username, display_name, badges, content, "
        "created_at, position FROM chat_messages WHERE stream_id = ? AND deleted_at IS NULL"
    )
    params: list[Any] = [stream_id]
    if before is not None:
        sql += " AND position < ?"
        params.append(before)
    sql += " ORDER BY position DESC LIMIT ?"
    params.append(limit + 1)
    rows = db.fetch_all(sql, tuple(params))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = rows[-1]["position"] if more and rows else None
    return [message_view(r) for r in rows], next_cursor


def _channel_view(row: dict[str, Any], db: Database) -> dict[str, Any]:
    current = get_stream(db, row["current_stream_id"]) if row.get("current_stream_id") else None
    moderators = db.fetch_all(
        "SELECT user_id FROM channel_moderators WHERE channel_id = ? ORDER BY granted_at",
        (row["id"],),
    )
    return {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "description": row["description"],
        "category": row["category"],
        "tags": loads(row["tags"]) or [],
        "isPublic": bool(row["is_public"]),
        "creator": {
            "id": row["owner_id"],
            "username": row.get("owner_username"),
            "displayName": row.get("owner_display_name"),
        },
        "followerCount": row["follower_count"],
        "viewCount": row["view_count"],
        "isLive": bool(row.get("is_live")),
        "viewerCount": row.get("viewer_count") or 0,
        "currentStream": current,
        "moderatorIds": [m["user_id"] for m in moderators],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


_CHANNEL_SQL = (
    "SELECT c.*, s.is_live, s.current_stream_id, s.viewer_count, "
    "u.username AS owner_username, u.display_name AS owner_display_name "
    "FROM channels c LEFT JOIN channel_status s ON s.channel_id = c.id "
    "LEFT JOIN users u ON u.id = c.owner_id "
)


def get_channel_by_slug(db: Database, slug: str) -> dict[str, Any] | None:
    row = db.fetch_one(_CHANNEL_SQL + "WHERE c.slug = ?", (slug.lower(),))
    return _channel_view(row, db) if row else None


def history_for_join(db: Database, stream_id: str, since: str | None, size: int,
                     since_position: int | None = None,
                     ) -> tuple[list[dict[str, Any]], int | None]:
    """`chat:history` for a join, oldest first, and the position it resumes after: the
    newest `size` messages (None), or, resuming after message `since` (found here or, when
    the read model does not have it yet, at `since_position`), everything stored after it
    (up to 10 x size)."""
    after = since_position
    if since and after is None:
        row = db.fetch_one("SELECT position FROM chat_messages WHERE id = ? AND stream_id = ?",
                           (since, stream_id))
        after = row["position"] if row is not None else None
    if after is not None:
        rows = db.fetch_all(
            "SELECT id, stream_id, channel_id, user_id, username, display_name, badges, "
            "content, created_at, position FROM chat_messages WHERE stream_id = ? "
            "AND deleted_at IS NULL AND position > ? ORDER BY position ASC LIMIT ?",
            (stream_id, after, size * 10))
        return [message_view(r) for r in rows], after
    items, _ = list_messages(db, stream_id, before=None, limit=size)
    return list(reversed(items)), None
