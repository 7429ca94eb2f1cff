"""ResolveReport: the channel owner or a moderator closes a report with an action, which
is taken in the same transaction (deleting the message, a timeout or a ban)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from commands.ban_user import MAX_TIMEOUT
from commands.ports import Store
from domain.channel import Channel
from domain.chat import ChatMessage
from domain.errors import Invalid, NotFound
from domain.report import Report

DEFAULT_TIMEOUT_S = 600


class ResolveReport(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    report_id: UUID
    action: str
    duration_s: int | None = None  # for a timeout
    note: str = ""


class ReportResolved(msgspec.Struct, frozen=True, kw_only=True):
    report: Report
    channel: Channel
    deleted: ChatMessage | None
    until: datetime | None
    position: int


def resolve_report(cmd: ResolveReport, store: Store,
                   now: datetime | None = None) -> ReportResolved:
    now = now or datetime.now(UTC)
    report = store.get(cmd.report_id, Report, what="report")
    channel = store.get(report.channel_id, Channel)
    if not channel.may_moderate(cmd.actor_id):  # reports are not seen by others at all
        raise NotFound(f"report {cmd.report_id} not found")
    report.resolve(cmd.actor_id, cmd.action, cmd.note)
    changed: list[Aggregate] = [report]
    deleted, until = None, None
    if cmd.action == "delete_message" and report.message_id is not None:
        message = store.get(report.message_id, ChatMessage, what="message")
        if message.delete(cmd.actor_id, may_moderate=True):
            deleted = message
            changed.append(message)
    elif cmd.action in ("timeout", "ban"):
        if cmd.action == "timeout":
            seconds = cmd.duration_s or DEFAULT_TIMEOUT_S
            if not 0 < seconds <= MAX_TIMEOUT.total_seconds():
                raise Invalid("durationSeconds is out of range", field="durationSeconds")
            until = now + timedelta(seconds=seconds)
        channel.ban(report.user_id, by=cmd.actor_id, until=until,
                    reason=f"report: {report.reason}"[:500], now=now)
        changed.append(channel)
    position = store.save(*changed)
    return ReportResolved(report=report, channel=channel, deleted=deleted, until=until,
                          position=position)
