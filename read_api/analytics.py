"""The analytics routes: the plan's success metrics for operators
(`GET /api/admin/analytics`, the operator token) and one channel's figures for its owner
(`GET /api/channels/{id}/analytics`), both computed from the event log as
`aethex analytics` computes them.

An analysis reads the log in bulk: it runs in a thread, one at a time per process (a
second request waits for the first rather than doubling the load), and an answer is kept
while the log's head has not moved."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery

from domain.channel import Channel
from domain.errors import Forbidden, Invalid
from infra.eventstore.event_store import EventStore
from infra.eventstore.export import parse_time
from infra.identity.auth import Principal
from infra.settings import Settings
from read_api.admin import require_operator
from read_api.deps import parse_id, provide_principal
from read_api.openapi import BEARER, problems
from read_api.reads import Aggregates
from workers.analytics.metrics import analyse, analyse_channel
from workers.analytics.report import ChannelReport, PeriodError, Report

T = TypeVar("T")


class Analytics:
    """Analyses of the event log for the API: off the event loop, one at a time, the
    last few answers kept until the log moves on."""

    def __init__(self, store: EventStore, *, keep: int = 16) -> None:
        self.store = store
        self.keep = keep
        self._lock = asyncio.Lock()
        self._answers: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    async def _cached(self, key: tuple[Any, ...], fn: Callable[[], T]) -> T:
        async with self._lock:
            head = await asyncio.to_thread(self.store.head)
            full = (*key, head)
            if full in self._answers:
                self._answers.move_to_end(full)
                return self._answers[full]  # type: ignore[no-any-return]
            answer = await asyncio.to_thread(fn)
            self._answers[full] = answer
            while len(self._answers) > self.keep:
                self._answers.popitem(last=False)
            return answer

    async def report(self, since: datetime | None, until: datetime | None) -> Report:
        def run() -> Report:
            try:
                return analyse(self.store, since, until)[0]
            except PeriodError as e:
                raise Invalid(e.message, field=e.field) from None

        return await self._cached(("all", since, until), run)

    async def channel(self, channel_id: UUID, since: datetime | None,
                      until: datetime | None) -> ChannelReport:
        def run() -> ChannelReport:
            try:
                return analyse_channel(self.store, str(channel_id), since, until)
            except PeriodError as e:
                raise Invalid(e.message, field=e.field) from None

        return await self._cached(("channel", channel_id, since, until), run)


def _period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """The query's period; a value that is not a time, or an end before the start, is a
    422 naming the parameter."""
    out: list[datetime | None] = []
    for name, value in (("since", since), ("until", until)):
        try:
            out.append(parse_time(value) if value else None)
        except ValueError:
            raise Invalid(f"{name} must be an ISO 8601 date or time, not {value!r}",
                          field=name) from None
    start, end = out
    if start is not None and end is not None and end < start:
        raise Invalid("until is before since", field="until")
    return start, end


_PERIOD_DOC = ("since/until: ISO 8601 dates or times (UTC without an offset); by default "
               "the log's first and last events")


class AdminAnalyticsController(Controller):
    """The plan's success metrics, for operators."""

    path = "/api/admin/analytics"
    tags = ["admin"]

    @get("/", operation_id="getAnalytics", security=BEARER,
         responses=problems(403, 422, auth=True), description=_PERIOD_DOC)
    async def report(self, request: Request[Any, Any, Any],
                     settings: NamedDependency[Settings],
                     analytics: NamedDependency[Analytics],
                     since: FromQuery[str | None] = None,
                     until: FromQuery[str | None] = None) -> Report:
        """Each success metric over the period beside the plan's target, with the streams
        and days it comes from (422 for a period with no events or no streams)."""
        require_operator(request, settings)
        start, end = _period(since, until)
        return await analytics.report(start, end)


class ChannelAnalyticsController(Controller):
    """A channel's figures for its owner: the creator dashboard's numbers."""

    path = "/api/channels"
    tags = ["channels"]

    @get("/{channel_id:str}/analytics", operation_id="getChannelAnalytics",
         dependencies={"principal": Provide(provide_principal)}, security=BEARER,
         responses=problems(403, 404, 422, auth=True), description=_PERIOD_DOC)
    async def channel(self, channel_id: FromPath[str],
                      principal: NamedDependency[Principal],
                      aggregates: NamedDependency[Aggregates],
                      analytics: NamedDependency[Analytics],
                      since: FromQuery[str | None] = None,
                      until: FromQuery[str | None] = None) -> ChannelReport:
        """The channel's streams over the period (peak viewers, chat messages,
        viewer-minutes) and the followers it gained and lost (owner only)."""
        cid = parse_id(channel_id, "channel")
        channel = await aggregates.get(cid, Channel)
        if channel.owner_id != principal.user_id:
            raise Forbidden("only the channel's owner sees its analytics", field="channelId")
        start, end = _period(since, until)
        return await analytics.channel(cid, start, end)
