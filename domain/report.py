"""Reports: a viewer reports a message or a user to a channel's moderators, who
resolve it with an action. One aggregate per report."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import Conflict, Invalid

MAX_REASON = 500
ACTIONS = ("dismiss", "delete_message", "timeout", "ban")


def clean_reason(reason: str) -> str:
    value = " ".join(reason.split())
    if not value or len(value) > MAX_REASON:
        raise Invalid(f"a reason needs 1-{MAX_REASON} characters", field="reason")
    return value


class Report(Aggregate):
    """Open until a moderator resolves it; the reporter and the channel's staff may see it."""

    class Filed(Aggregate.Created):
        reporter_id: UUID
        channel_id: UUID
        user_id: UUID  # who is reported
        message_id: UUID | None  # and for what, when it is a message
        content: str  # the message as it was when reported ("" for a user)
        reason: str

    class Resolved(Aggregate.Event):
        channel_id: UUID
        by: UUID
        action: str
        note: str

        def apply(self, report: Report) -> None:
            report.resolved_by = self.by
            report.action = self.action

    def __init__(self, reporter_id: UUID, channel_id: UUID, user_id: UUID,
                 message_id: UUID | None, content: str, reason: str) -> None:
        self.reporter_id = reporter_id
        self.channel_id = channel_id
        self.user_id = user_id
        self.message_id = message_id
        self.content = content
        self.reason = reason
        self.resolved_by: UUID | None = None
        self.action: str | None = None

    @classmethod
    def file(cls, *, reporter_id: UUID, channel_id: UUID, user_id: UUID,
             message_id: UUID | None, content: str, reason: str) -> Report:
        if reporter_id == user_id:
            raise Invalid("you cannot report yourself", field="userId")
        return cls._create(cls.Filed, reporter_id=reporter_id, channel_id=channel_id,
                           user_id=user_id, message_id=message_id, content=content,
                           reason=clean_reason(reason))

    @property
    def is_open(self) -> bool:
        return self.resolved_by is None

    def resolve(self, by: UUID, action: str, note: str) -> None:
        """Closes the report (the caller has checked `by` moderates the channel)."""
        if action not in ACTIONS:
            raise Invalid(f"action must be one of {', '.join(ACTIONS)}", field="action")
        if action == "delete_message" and self.message_id is None:
            raise Invalid("a report of a user has no message to delete", field="action")
        if not self.is_open:
            raise Conflict("the report is already resolved", field="reportId")
        self.trigger_event(self.Resolved, channel_id=self.channel_id, by=by, action=action,
                           note=note.strip()[:MAX_REASON])
