"""Read-side queries for moderation (issue 6): plain SQL against the read tables."""

from __future__ import annotations

from uuid import UUID

from infra.database import Database


def recent_message_ids(db: Database, stream_id: str, user_id: str, since: str) -> list[UUID]:
    """A user's messages in a stream created at `since` (ISO time) or later, not deleted."""
    rows = db.fetch_all(
        "SELECT id FROM chat_messages WHERE stream_id = ? AND user_id = ? "
        "AND deleted_at IS NULL AND created_at >= ? ORDER BY position", (stream_id, user_id, since))
    return [UUID(r["id"]) for r in rows]
