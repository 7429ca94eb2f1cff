"""Chat history: messages per stream, newest first by position; deleted ones hidden."""

from __future__ import annotations

from collections.abc import Sequence

from infra.bus import LiveUpdate
from infra.database import Tx
from infra.envelope import EventEnvelope
from projections.base import Projection, dumps, loads

_INSERT = (
    "INSERT INTO chat_messages (id, stream_id, channel_id, user_id, username, display_name, "
    "badges, content, created_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO NOTHING"
)
_DELETE = ("UPDATE chat_messages SET deleted_at = ?, deleted_by = ? "
           "WHERE id = ? AND deleted_at IS NULL")


def message_view(row: dict) -> dict:
    """A message as clients see it, from a row or an event's fields."""
    badges = row["badges"]
    return {
        "id": row["id"],
        "streamId": row["stream_id"],
        "channelId": row["channel_id"],
        "user": {
            "id": row["user_id"],
            "username": row["username"],
            "displayName": row["display_name"],
            "badges": badges if isinstance(badges, list) else loads(badges) or [],
        },
        "content": row["content"],
        "createdAt": row["created_at"],
        "position": row["position"],
    }


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

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> list[LiveUpdate]:
        rows: list[tuple] = []
        live: list[LiveUpdate] = []
        for e in events:
            d = e.data
            if e.type == "ChatMessage.Sent":
                row = {
                    "id": e.aggregate_id, "stream_id": d["stream_id"],
                    "channel_id": d["channel_id"],
                    "user_id": d["author_id"], "username": d["username"],
                    "display_name": d["display_name"], "badges": d.get("badges", []),
                    "content": d["content"], "created_at": e.timestamp, "position": e.position,
                }
                rows.append((row["id"], row["stream_id"], row["channel_id"], row["user_id"],
                             row["username"], row["display_name"], dumps(row["badges"]),
                             row["content"], row["created_at"], row["position"]))
                live.append(LiveUpdate(d["stream_id"], "chat:message", message_view(row)))
            elif e.type == "ChatMessage.Deleted":
                if rows:  # keep the order of a send and a delete within one batch
                    tx.executemany(_INSERT, rows)
                    rows = []
                tx.execute(_DELETE, (e.timestamp, d["deleted_by"], e.aggregate_id))
                live.append(LiveUpdate(d["stream_id"], "chat:deleted",
                                       {"messageId": e.aggregate_id, "streamId": d["stream_id"]}))
        if rows:
            tx.executemany(_INSERT, rows)
        return live
