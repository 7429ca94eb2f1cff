"""Reports: viewers report messages or users; the channel's owner and moderators
work through the queue and resolve each with an action. A report is seen only by its
reporter and the channel's staff: to anyone else it does not exist (404)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from msgspec import Meta

from commands.bus import CommandBus
from commands.report import FileReport
from commands.resolve_report import ResolveReport
from domain.channel import Channel
from domain.errors import NotFound
from infra.identity.auth import Principal
from projections.reports import get_report, list_reports
from read_api.deps import parse_id, provide_principal
from read_api.moderation import staff_channel
from read_api.openapi import BEARER, problems
from read_api.paging import Before, Cursor, Limit, page_cursor
from read_api.reads import Aggregates, ReadModels
from read_api.views.report import FiledReport, Report, ReportPage, ResolvedReport

auth = {"principal": Provide(provide_principal)}
Id = Annotated[str, Meta(max_length=64)]


class ReportBody(msgspec.Struct, rename="camel"):
    """A message (messageId), or a user in a channel (userId and channelId), and why."""

    reason: Annotated[str, Meta(min_length=1, max_length=500)]
    message_id: Id | None = None
    user_id: Id | None = None
    channel_id: Id | None = None


class ResolveBody(msgspec.Struct, rename="camel"):
    """What the moderator did: dismiss, delete_message, timeout (durationSeconds) or ban."""

    action: Literal["dismiss", "delete_message", "timeout", "ban"]
    duration_seconds: Annotated[int, Meta(ge=1, le=14 * 86400)] | None = None
    note: Annotated[str, Meta(max_length=500)] = ""


def _optional_id(value: str | None, what: str) -> UUID | None:
    return parse_id(value, what) if value is not None else None


class ReportController(Controller):
    """Filing, reading and resolving reports."""

    path = "/api/reports"
    tags = ["moderation"]

    @post("/", status_code=201, dependencies=auth, operation_id="fileReport", security=BEARER,
          responses=problems(403, 404, 415, 422, auth=True))
    async def file(
        self,
        data: JSONBody[ReportBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> FiledReport:
        """Reports a message or a user to the channel's moderators."""
        result = await commands.execute(FileReport(
            reporter_id=principal.user_id, reason=data.reason,
            message_id=_optional_id(data.message_id, "message"),
            user_id=_optional_id(data.user_id, "user"),
            channel_id=_optional_id(data.channel_id, "channel")))
        r = result.report
        return {"id": str(r.id), "channelId": str(r.channel_id), "userId": str(r.user_id),
                "messageId": str(r.message_id) if r.message_id else None, "reason": r.reason,
                "status": "open", "position": result.position}

    @get("/{report_id:str}", dependencies=auth, operation_id="getReport", security=BEARER,
         responses=problems(403, 404, 422, 503, auth=True))
    async def read(
        self,
        report_id: FromPath[str],
        principal: NamedDependency[Principal],
        reads: NamedDependency[ReadModels],
        aggregates: NamedDependency[Aggregates],
        after: FromQuery[int | None] = None,
    ) -> Report:
        """One report, for its reporter or the channel's staff."""
        parse_id(report_id, "report")
        await reads.caught_up(("reports",), after)
        report = await reads.query(get_report, report_id)
        if report is not None and report["reporterId"] != str(principal.user_id):
            channel = await aggregates.get(UUID(report["channelId"]), Channel)
            if not channel.may_moderate(principal.user_id):
                report = None
        if report is None:
            raise NotFound(f"report {report_id!r} not found")
        return report

    @post("/{report_id:str}/resolve", status_code=200, dependencies=auth,
          operation_id="resolveReport", security=BEARER,
          responses=problems(403, 404, 409, 415, 422, auth=True))
    async def resolve(
        self,
        report_id: FromPath[str],
        data: JSONBody[ResolveBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> ResolvedReport:
        """Closes a report with an action, taken at once (owner or moderators); rooms hear
        of a ban or timeout from its event."""
        result = await commands.execute(ResolveReport(
            actor_id=principal.user_id, report_id=parse_id(report_id, "report"),
            action=data.action, duration_s=data.duration_seconds, note=data.note))
        return {"id": report_id, "status": "resolved", "action": data.action,
                "deletedMessageId": str(result.deleted.id) if result.deleted else None,
                "until": result.until.isoformat() if result.until else None,
                "position": result.position}


class ChannelReportController(Controller):
    """A channel's moderation queue."""

    path = "/api/channels"
    tags = ["moderation"]

    @get("/{channel_id:str}/reports", dependencies=auth, operation_id="listChannelReports",
         security=BEARER, responses=problems(403, 404, 422, 503, auth=True))
    async def queue(
        self,
        channel_id: FromPath[str],
        principal: NamedDependency[Principal],
        aggregates: NamedDependency[Aggregates],
        reads: NamedDependency[ReadModels],
        status: Annotated[Literal["open", "resolved", "all"],
                          QueryParameter(description="which reports")] = "open",
        cursor: Cursor = None,
        before: Before = None,
        limit: Limit = 50,
        after: FromQuery[int | None] = None,
    ) -> ReportPage:
        """Reports on the channel, newest first (owner and moderators only); pass
        `nextCursor` back as `cursor`."""
        page = page_cursor(cursor, before)
        channel = await staff_channel(aggregates, channel_id, principal)
        await reads.caught_up(("reports",), after)
        items, next_cursor = await reads.query(
            list_reports, str(channel.id), status=None if status == "all" else status,
            before=page, limit=limit)
        return {"items": items, "nextCursor": next_cursor}
