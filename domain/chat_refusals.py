"""Refused chat sends, counted: how many sends one API node refused in a short window, per
stream and reason. The other half of the failed-message rate (the accepted half is
`ChatMessage.Sent`), kept in the log so a replayed or imported log gives the same rate."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate


class ChatRefusals(Aggregate):
    """One node's count of refused sends to one stream for one reason, over a window."""

    class Counted(Aggregate.Created):
        """`count` sends to `stream_id` were refused for `reason` (a `chat:error` code:
        `rate_limited`, `banned`, `slow_mode`, ..., or `error` when the store failed)
        between `since` and this event's time, on API node `node`. `stream_id` is None for
        sends to a stream that does not exist."""

        stream_id: UUID | None
        channel_id: UUID | None
        reason: str
        count: int
        since: datetime
        node: str

    def __init__(self, stream_id: UUID | None, channel_id: UUID | None, reason: str,
                 count: int, since: datetime, node: str) -> None:
        self.stream_id = stream_id
        self.channel_id = channel_id
        self.reason = reason
        self.count = count
        self.since = since
        self.node = node

    @classmethod
    def count_window(cls, *, stream_id: UUID | None, channel_id: UUID | None, reason: str,
                     count: int, since: datetime, node: str) -> ChatRefusals:
        return cls._create(cls.Counted, stream_id=stream_id, channel_id=channel_id,
                           reason=reason, count=count, since=since, node=node)
