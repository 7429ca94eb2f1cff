"""FileReport: a signed-in user reports a chat message, or a user in a channel."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.chat import ChatMessage
from domain.errors import Invalid
from domain.report import Report
from domain.user import User


class FileReport(msgspec.Struct, frozen=True, kw_only=True):
    reporter_id: UUID
    reason: str
    message_id: UUID | None = None  # a message (its channel and author follow from it)
    user_id: UUID | None = None  # or a user, in `channel_id`
    channel_id: UUID | None = None


class ReportFiled(msgspec.Struct, frozen=True, kw_only=True):
    report: Report
    position: int


def file_report(cmd: FileReport, store: Store) -> ReportFiled:
    if cmd.message_id is not None:
        message = store.get(cmd.message_id, ChatMessage, what="message")
        channel_id, user_id, content = message.channel_id, message.author_id, message.content
    elif cmd.user_id is not None and cmd.channel_id is not None:
        store.get(cmd.channel_id, Channel)
        store.get(cmd.user_id, User, what="user")
        channel_id, user_id, content = cmd.channel_id, cmd.user_id, ""
    else:
        raise Invalid("report a messageId, or a userId with its channelId", field="messageId")
    report = Report.file(reporter_id=cmd.reporter_id, channel_id=channel_id, user_id=user_id,
                         message_id=cmd.message_id, content=content, reason=cmd.reason)
    return ReportFiled(report=report, position=store.save(report))
