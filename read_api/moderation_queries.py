"""Read-side queries for moderation: plain SQL against the read tables."""

from __future__ import annotations

from typing import Any

from infra.database import Database
from projections.moderation_log import log_entry_view
from projections.reports import report_view


def moderation_log(db: Database, channel_id: str, *, before: int | None,
                   limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; `before` is the cursor (a position) from the previous page."""
    sql = "SELECT * FROM moderation_log WHERE channel_id = ?"
    params: list[Any] = [channel_id]
    if before is not None:
        sql += " AND position < ?"
        params.append(before)
    rows = db.fetch_all(sql + " ORDER BY position DESC LIMIT ?", (*params, limit + 1))
    items = [log_entry_view(r) for r in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None)


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


def ignored_ids(db: Database, user_id: str) -> list[str]:
    """Whom the user ignores (their messages are hidden from the user's view)."""
    return [r["ignored_id"] for r in db.fetch_all(
        "SELECT ignored_id FROM user_ignores WHERE user_id = ? ORDER BY position", (user_id,))]
