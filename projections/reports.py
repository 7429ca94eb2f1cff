"""Reports: the moderation queue of each channel, open ones first to act on.
Each row names its reporter so a reporter sees only their own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.base import Projection
from projections.ports import Database, EventEnvelope, Tx

REPORT_TYPES = ("Report.Filed", "Report.Resolved")


class Reports(Projection):
    """One row per report, updated in place when it is resolved."""

    name = "reports"
    types = REPORT_TYPES
    tables = ("reports",)
    ddl = [
        """CREATE TABLE IF NOT EXISTS reports (
            id TEXT PRIMARY KEY,
            channel_id TEXT NOT NULL,
            reporter_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            message_id TEXT,
            content TEXT NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL,
            action TEXT,
            resolved_by TEXT,
            note TEXT,
            created_at TEXT NOT NULL,
            resolved_at TEXT,
            position BIGINT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS reports_channel ON reports (channel_id, status, position)",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            d = e.data
            if e.type == "Report.Filed":
                tx.execute(
                    "INSERT INTO reports (id, channel_id, reporter_id, user_id, message_id, "
                    "content, reason, status, created_at, position) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, 'open', ?, ?) ON CONFLICT (id) DO NOTHING",
                    (e.aggregate_id, d["channel_id"], d["reporter_id"], d["user_id"],
                     d.get("message_id"), d["content"], d["reason"], e.timestamp, e.position))
            else:
                tx.execute("UPDATE reports SET status = 'resolved', action = ?, resolved_by = ?, "
                           "note = ?, resolved_at = ? WHERE id = ?",
                           (d["action"], d["by"], d["note"], e.timestamp, e.aggregate_id))


def report_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "channelId": row["channel_id"], "reporterId": row["reporter_id"],
            "userId": row["user_id"], "messageId": row["message_id"],
            "content": row["content"], "reason": row["reason"], "status": row["status"],
            "action": row["action"], "resolvedBy": row["resolved_by"], "note": row["note"],
            "createdAt": row["created_at"], "resolvedAt": row["resolved_at"],
            "position": row["position"]}


def get_report(db: Database, report_id: str) -> dict[str, Any] | None:
    row = db.fetch_one("SELECT * FROM reports WHERE id = ?", (report_id,))
    return report_view(row) if row else None


def list_reports(db: Database, channel_id: str, *, status: str | None, before: int | None,
                 limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """A channel's reports, newest first; `status` is 'open' or 'resolved' (None: both)."""
    sql = "SELECT * FROM reports WHERE channel_id = ?"
    params: list[Any] = [channel_id]
    if status is not None:
        sql += " AND status = ?"
        params.append(status)
    if before is not None:
        sql += " AND position < ?"
        params.append(before)
    rows = db.fetch_all(sql + " ORDER BY position DESC LIMIT ?", (*params, limit + 1))
    items = [report_view(r) for r in rows[:limit]]
    return items, (items[-1]["position"] if len(rows) > limit else None)
