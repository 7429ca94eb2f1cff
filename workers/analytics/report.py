"""What an analysis answers: the plan's success metrics over a period, each beside its
target, with the per-stream and per-day figures they come from, and the series the HTML
report draws. Plain msgspec Structs: the CLI prints them as JSON, the API returns them."""

from __future__ import annotations

from typing import Literal

import msgspec


class Metric(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One success metric: its value over the period beside the plan's target.

    `value` is None when the log cannot give it (`source` then says what would), or the
    period holds nothing to measure (`note` says why); `met` is None then too."""

    key: str
    name: str
    value: float | None
    unit: str
    target: float | None
    comparison: Literal[">=", "<", "<="]
    met: bool | None
    source: str
    note: str | None = None


class StreamFigures(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One stream live during the period; times clipped to the period."""

    stream_id: str
    channel_id: str
    owner_id: str
    title: str
    started_at: str
    ended_at: str | None
    live_s: float
    peak_viewers: int
    messages: int
    viewer_minutes: float
    start_latency_ms: float | None
    disconnected_s: float


class DayFigures(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One UTC day of the period."""

    day: str
    active_users: int
    active_creators: int
    messages: int


class Report(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The plan's success metrics over [since, until], computed from the event log only."""

    since: str
    until: str
    events: int
    metrics: list[Metric]
    streams: list[StreamFigures]
    days: list[DayFigures]
    refusals: dict[str, int]


class ChannelReport(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A channel's figures over [since, until]: the creator dashboard's numbers."""

    channel_id: str
    since: str
    until: str
    streams: list[StreamFigures]
    peak_viewers: int
    messages: int
    viewer_minutes: float
    followers_gained: int
    followers_lost: int


class Series(msgspec.Struct, frozen=True, kw_only=True):
    """What the HTML report draws: viewers over time of the top streams (each a list of
    (epoch seconds, count) steps), chat messages per bin, active users and creators by day.
    """

    viewers: dict[str, list[tuple[float, int]]]
    chat_bin_s: int
    chat: list[tuple[float, int]]


class PeriodError(ValueError):
    """A period that cannot be analysed (ends before it starts, holds no events or no
    streams): the CLI's exit code 2, the API's 422 naming `field`."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
