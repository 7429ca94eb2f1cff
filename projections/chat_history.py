"""Chat history: messages per stream, newest first by position; deleted ones hidden."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from projections.base import Projection, dumps, loads
from projections.ports import Database, EventEnvelope, Tx

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


def message_view(row: dict[str, Any]) -> dict[str, Any]:
    """A message as clients see it, from a `chat_messages` row."""
    badges = row["badges"]
    return message_json(row["id"], row["stream_id"], row["channel_id"], row["user_id"],
                    row["username"], row["display_name"],
                    badges if isinstance(badges, list) else loads(badges) or [],
                    row["content"], row["created_at"], row["position"],
                    row.get("deleted_at"))


def message_json(id: str, stream_id: str, channel_id: str, user_id: str, username: str,
             display_name: str, badges: list[str], content: str, created_at: str,
             position: int, deleted_at: str | None = None) -> dict[str, Any]:
    """The one shape of a message (history, the send answer, /ws and Socket.IO frames):
    `userId` and `badges` at the top as the plan's Message has them, and inside `user` as
    clients built on the first shape read them. `deletedAt` is null but where staff are
    shown deleted messages."""
    return {
        "id": id,
        "streamId": stream_id,
        "channelId": channel_id,
        "userId": user_id,
        "badges": badges,
        "user": {"id": user_id, "username": username, "displayName": display_name,
                 "badges": badges},
        "content": content,
        "createdAt": created_at,
        "deletedAt": deleted_at,
        "position": position,
    }


def list_messages(
    db: Database, stream_id: str, *, before: int | None, limit: int,
    include_deleted: bool = False,
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; `before` is the cursor (a position) from the previous page. Deleted
    messages are left out, but for the channel's staff (`include_deleted`): with `deletedAt`."""
    sql = (
        "SELECT id, stream_id, channel_id, user_id, username, display_name, badges, content, "
        "created_at, position, deleted_at FROM chat_messages WHERE stream_id = ?"
        + ("" if include_deleted else " AND deleted_at IS NULL")
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
