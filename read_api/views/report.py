"""Reports on messages and users, and their resolution."""

from __future__ import annotations

import msgspec


class FiledReport(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    channel_id: str
    user_id: str
    message_id: str | None
    reason: str
    status: str
    position: int


class Report(msgspec.Struct, rename="camel", kw_only=True):
    """A report as its reporter and the channel's staff see it."""

    id: str
    channel_id: str
    reporter_id: str
    user_id: str
    message_id: str | None
    content: str
    reason: str
    status: str
    action: str | None
    resolved_by: str | None
    note: str | None
    created_at: str
    resolved_at: str | None
    position: int


class ReportPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Report]
    next_cursor: int | None


class ResolvedReport(msgspec.Struct, rename="camel", kw_only=True):
    """A resolution: the action taken, the message it deleted, the timeout's end."""

    id: str
    status: str
    action: str
    deleted_message_id: str | None
    until: str | None
    position: int
