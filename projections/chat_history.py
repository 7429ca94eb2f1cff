"""Chat history: messages per stream, newest first by position; deleted ones hidden."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from infra.database import Database, Tx
from infra.envelope import EventEnvelope
from projections.base import Projection, dumps

_INSERT = (
    "INSERT INTO chat_messages (id, stream_id, channel_id, user_id, username, display_name, "
    "badges, content, created_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO NOTHING"
)
_DELETE = ("UPDATE chat_messages SET deleted_at = ?, deleted_by = ? "
           "WHERE id = ? AND deleted_at IS NULL")


class ChatHistory(Projection):
    name = "chat_history"
    types = ("ChatMessage.Sent", "ChatMessage.Deleted")
    tables = ("chat_messages",)
    ddl = [
        """CREATE TABLE IF NOT EXISTS chat_messages (
            id TEXT PRIMARY KEY,
            stream_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            username TEXT NOT NULL,
            display_name TEXT NOT NULL,
            badges TEXT NOT NULL,
            content TEXT NOT NULL,
            created_at TEXT NOT NULL,
            position BIGINT NOT NULL,
            deleted_at TEXT,
            deleted_by TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS chat_messages_stream_position "
        "ON chat_messages (stream_id, position)",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        rows: list[tuple] = []
        for e in events:
            d = e.data
            if e.type == "ChatMessage.Sent":
                rows.append((e.aggregate_id, d["stream_id"], d["channel_id"], d["author_id"],
                             d["username"], d["display_name"], dumps(d.get("badges", [])),
                             d["content"], e.timestamp, e.position))
            elif e.type == "ChatMessage.Deleted":
                if rows:  # keep the order of a send and a delete within one batch
                    tx.executemany(_INSERT, rows)
                    rows = []
                tx.execute(_DELETE, (e.timestamp, d["deleted_by"], e.aggregate_id))
        if rows:
            tx.executemany(_INSERT, rows)


def recent_message_ids(db: Database, stream_id: str, user_id: str, since: str) -> list[UUID]:
    """A user's messages in a stream created at `since` (ISO time) or later, not deleted."""
    rows = db.fetch_all(
        "SELECT id FROM chat_messages WHERE stream_id = ? AND user_id = ? "
        "AND deleted_at IS NULL AND created_at >= ? ORDER BY position", (stream_id, user_id, since))
    return [UUID(r["id"]) for r in rows]
