"""The plan's success metrics, computed from events only (so a replayed or imported log
gives the same answer). `analyse` reads the log in bulk (`infra/eventstore/columns.py`)
and `compute` turns those rows into a `Report`; `analyse_channel` does the same for one
channel (the creator dashboard's numbers).

Definitions (docs/analytics.md has them for analysts):
- a stream is in the period when it was LIVE at some moment of it; its figures count only
  what happened within the period;
- viewers: a stream's sampled count holds until its next sample or its end (0 at start);
- percentiles interpolate linearly between ranks (DuckDB's `quantile_cont`);
- a day is a UTC day; the daily metrics are averages over the days the period touches.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.eventstore.columns import AGGREGATE_ID, Row, read_columns
from infra.eventstore.event_store import EventStore
from workers.analytics.report import (
    ChannelReport,
    DayFigures,
    Metric,
    PeriodError,
    Report,
    Series,
    StreamFigures,
)

RETURN_WINDOW = timedelta(days=7)
TOP_STREAMS = 5

# What each metric is read from: every one of them from these event types and fields.
WANTED: dict[str, tuple[str, ...]] = {
    "User.Registered": (AGGREGATE_ID,),
    "Channel.Created": (AGGREGATE_ID, "owner_id"),
    "Stream.Created": (AGGREGATE_ID, "channel_id", "owner_id", "title"),
    "Stream.Started": (AGGREGATE_ID,),
    "Stream.Ended": (AGGREGATE_ID,),
    "Stream.ViewerCountSampled": (AGGREGATE_ID, "count"),
    "Stream.IngestDisconnected": (AGGREGATE_ID,),
    "Stream.IngestReconnected": (AGGREGATE_ID,),
    "ChatMessage.Sent": ("stream_id", "author_id"),
    "Follow.Followed": ("follower_id", "target_kind", "channel_id"),
    "Follow.Refollowed": ("follower_id", "target_kind", "channel_id"),
    "Follow.Unfollowed": ("follower_id", "target_kind", "channel_id"),
    "WebhookReceipt.Received": ("stream_id", "received_at", "outcome"),
    "ChatRefusals.Counted": ("stream_id", "reason", "count"),
}


def epoch(ts: str) -> float:
    """Seconds since 1970 of a stored ISO 8601 timestamp (naive means UTC)."""
    moment = datetime.fromisoformat(ts)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _utc_text(ts: str) -> str:
    """A timestamp in the stored form, which orders as text: UTC, '+00:00'."""
    return ts if ts.endswith("+00:00") else iso(epoch(ts))


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, DuckDB's
    quantile_cont); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class _Stream:
    """What the log says of one stream, as the computation gathers it."""

    __slots__ = ("channel_id", "disconnects", "end", "id", "owner_id", "reconnects",
                 "samples", "start", "title")

    def __init__(self, stream_id: str, channel_id: str, owner_id: str, title: str) -> None:
        self.id = stream_id
        self.channel_id = channel_id
        self.owner_id = owner_id
        self.title = title
        self.start: float | None = None
        self.end: float | None = None
        self.samples: list[tuple[float, int]] = []
        self.disconnects: list[float] = []
        self.reconnects: list[float] = []

    def live_within(self, since: float, until: float) -> tuple[float, float] | None:
        """Its LIVE time clipped to the period; None when it was never LIVE in it."""
        if self.start is None or self.start > until:
            return None
        end = until if self.end is None else min(self.end, until)
        if end < since:
            return None
        return max(self.start, since), end

    def count_at(self, t: float) -> int:
        """The viewer count in force at `t` (the last sample at or before it)."""
        i = bisect.bisect_right(self.samples, (t, float("inf"))) - 1
        return self.samples[i][1] if i >= 0 else 0

    def steps(self, lo: float, hi: float) -> list[tuple[float, int]]:
        """The count as steps over [lo, hi]: the count in force at lo, then each sample."""
        out = [(lo, self.count_at(lo))]
        out.extend((t, c) for t, c in self.samples if lo < t <= hi)
        return out

    def disconnected_within(self, lo: float, hi: float) -> float:
        """Seconds the encoder was away within [lo, hi]: each disconnect lasts until the
        next reconnect, or the end of the stream."""
        total = 0.0
        reconnects = sorted(self.reconnects)
        for d in sorted(self.disconnects):
            i = bisect.bisect_right(reconnects, d)
            back = reconnects[i] if i < len(reconnects) else (
                self.end if self.end is not None else hi)
            a, b = max(d, lo), min(back, hi)
            if b > a:
                total += b - a
        return total


def _streams(cols: dict[str, list[Row]]) -> dict[str, _Stream]:
    streams: dict[str, _Stream] = {}
    for _, sid, channel_id, owner_id, title in cols["Stream.Created"]:
        streams[sid] = _Stream(sid, channel_id, owner_id, title or "")
    for ts, sid in cols["Stream.Started"]:
        if sid in streams:
            streams[sid].start = epoch(ts)
    for ts, sid in cols["Stream.Ended"]:
        if sid in streams:
            streams[sid].end = epoch(ts)
    for ts, sid, count in cols["Stream.ViewerCountSampled"]:
        if sid in streams:
            streams[sid].samples.append((epoch(ts), count))
    for ts, sid in cols["Stream.IngestDisconnected"]:
        if sid in streams:
            streams[sid].disconnects.append(epoch(ts))
    for ts, sid in cols["Stream.IngestReconnected"]:
        if sid in streams:
            streams[sid].reconnects.append(epoch(ts))
    for s in streams.values():
        s.samples.sort()
    return streams


def _integral(steps: list[tuple[float, int]], hi: float) -> float:
    """Count x seconds under a step function that ends at hi."""
    total = 0.0
    for (t, c), nxt in zip(steps, [*steps[1:], (hi, 0)], strict=True):
        total += c * (nxt[0] - t)
    return total


def _start_latencies(cols: dict[str, list[Row]], streams: dict[str, _Stream]
                     ) -> dict[str, float]:
    """Seconds from the ingest notification that started a stream (its receipt's
    `received_at`) to the stream's LIVE: the latest "connected" receipt for the stream
    received at or before it went LIVE. Streams started by hand have none."""
    out: dict[str, float] = {}
    for _, sid, received_at, outcome in cols["WebhookReceipt.Received"]:
        if sid is None or not outcome or not outcome.endswith("connected"):
            continue
        s = streams.get(sid)
        if s is None or s.start is None or received_at is None:
            continue
        received = epoch(received_at)
        if received <= s.start and (sid not in out or s.start - received < out[sid]):
            out[sid] = s.start - received
    return out


def _days(since: float, until: float) -> list[str]:
    day = datetime.fromtimestamp(since, UTC).date()
    last = datetime.fromtimestamp(until, UTC).date()
    out = []
    while day <= last:
        out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def _day_bounds(day: str) -> tuple[float, float]:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
    return start, start + 86400.0


def _figures(s: _Stream, lo: float, hi: float, messages: int,
             latency: float | None) -> StreamFigures:
    steps = s.steps(lo, hi)
    return StreamFigures(
        stream_id=s.id, channel_id=s.channel_id, owner_id=s.owner_id, title=s.title,
        started_at=iso(s.start or lo), ended_at=iso(s.end) if s.end is not None else None,
        live_s=hi - lo, peak_viewers=max(c for _, c in steps),
        messages=messages, viewer_minutes=_integral(steps, hi) / 60.0,
        start_latency_ms=latency * 1000.0 if latency is not None else None,
        disconnected_s=s.disconnected_within(lo, hi))


def _metric(key: str, name: str, value: float | None, unit: str, target: float | None,
            comparison: str, source: str, note: str | None = None) -> Metric:
    met = None
    if value is not None and target is not None:
        met = {">=": value >= target, "<": value < target, "<=": value <= target}[comparison]
    return Metric(key=key, name=name, value=value, unit=unit, target=target,
                  comparison=comparison, met=met, source=source, note=note)  # type: ignore[arg-type]


def _peak_concurrent(live: dict[str, tuple[_Stream, float, float]]) -> int:
    """The most viewers watching at once across streams: a sweep over every sample."""
    changes: list[tuple[float, int, str, int]] = []
    for sid, (s, lo, hi) in live.items():
        for t, c in s.steps(lo, hi):
            changes.append((t, 1, sid, c))
        changes.append((hi, 0, sid, 0))  # ends sort before samples at the same moment
    changes.sort()
    current: dict[str, int] = {}
    total = peak = 0
    for _, _, sid, c in changes:
        total += c - current.get(sid, 0)
        current[sid] = c
        peak = max(peak, total)
    return peak


class ChatTally:
    """Chat messages within a period, folded a batch of rows at a time (they are most of
    the log: kept as rows, millions of tuples would weigh on memory and the collector):
    per stream, per bin of the chart, per day, and each day's authors."""

    def __init__(self, since: datetime, until: datetime) -> None:
        self.lo_s, self.hi_s = iso(since.timestamp()), iso(until.timestamp())
        self.bin_s = 60 if until.timestamp() - since.timestamp() <= 2 * 86400 else 3600
        self.bin_len = 16 if self.bin_s == 60 else 13  # "YYYY-MM-DDTHH:MM" or "...THH"
        self.per_stream: Counter[str] = Counter()
        self.per_bin: Counter[str] = Counter()
        self.per_day: Counter[str] = Counter()
        self.active: defaultdict[str, set[str]] = defaultdict(set)
        self.rows = 0

    def add(self, rows: list[Row]) -> None:
        """`ChatMessage.Sent` rows: (timestamp, stream id, author id)."""
        lo_s, hi_s, bin_len = self.lo_s, self.hi_s, self.bin_len
        per_stream, per_bin, per_day, active = (self.per_stream, self.per_bin, self.per_day,
                                                self.active)
        self.rows += len(rows)
        for ts, sid, author in rows:
            if not ts.endswith("+00:00"):
                ts = _utc_text(ts)
            if ts < lo_s or ts > hi_s:
                continue
            per_stream[sid] += 1
            per_bin[ts[:bin_len]] += 1
            day = ts[:10]
            per_day[day] += 1
            active[day].add(author)


def compute(cols: dict[str, list[Row]], since: datetime, until: datetime,
            *, events: int = 0, chat: ChatTally | None = None) -> tuple[Report, Series]:
    """The report over [since, until] from `read_columns` rows of the `WANTED` types (the
    chat messages' already folded into `chat`, or among the rows)."""
    lo_t, hi_t = since.timestamp(), until.timestamp()
    lo_s, hi_s = iso(lo_t), iso(hi_t)
    streams = _streams(cols)
    live = {sid: (s, *w) for sid, s in streams.items()
            if (w := s.live_within(lo_t, hi_t)) is not None}
    if not live:
        raise PeriodError(f"no stream was live between {lo_s} and {hi_s}: nothing to "
                          "measure", field="since")
    latencies = _start_latencies(cols, streams)

    if chat is None:
        chat = ChatTally(since, until)
        chat.add(cols["ChatMessage.Sent"])
    per_stream, per_bin, per_day, active = chat.per_stream, chat.per_bin, chat.per_day, \
        chat.active
    bin_s, bin_len = chat.bin_s, chat.bin_len
    for kind in ("Follow.Followed", "Follow.Refollowed"):
        for ts, follower, _, _ in cols[kind]:
            ts = _utc_text(ts)
            if lo_s <= ts <= hi_s:
                active[ts[:10]].add(follower)

    figures = [_figures(s, lo, hi, per_stream.get(sid, 0), latencies.get(sid)
                        if s.start is not None and lo_t <= s.start <= hi_t else None)
               for sid, (s, lo, hi) in live.items()]
    figures.sort(key=lambda f: (f.started_at, f.stream_id))

    # Creators active on a day: one of their streams was LIVE at some moment of it.
    days = _days(lo_t, hi_t)
    creators_by_day: dict[str, set[str]] = {d: set() for d in days}
    for s, lo, hi in live.values():
        for d in days:
            d0, d1 = _day_bounds(d)
            if lo < d1 and hi >= d0:
                creators_by_day[d].add(s.owner_id)
    day_rows = [DayFigures(day=d, active_users=len(active.get(d, ())),
                           active_creators=len(creators_by_day[d]),
                           messages=per_day.get(d, 0)) for d in days]

    registered = sum(1 for ts, _ in cols["User.Registered"] if _utc_text(ts) <= hi_s)
    creators = {owner for ts, _, owner in cols["Channel.Created"] if _utc_text(ts) <= hi_s}

    # Return rate: creators whose first stream started at least RETURN_WINDOW before the
    # period's end, within it; returned if they started another within the window.
    starts: defaultdict[str, list[float]] = defaultdict(list)
    for s in streams.values():
        if s.start is not None and s.start <= hi_t:
            starts[s.owner_id].append(s.start)
    window = RETURN_WINDOW.total_seconds()
    cohort = returned = 0
    for times in starts.values():
        times.sort()
        first = times[0]
        if lo_t <= first <= hi_t - window:
            cohort += 1
            returned += any(first < t <= first + window for t in times[1:])

    live_total = sum(f.live_s for f in figures)
    away = sum(f.disconnected_s for f in figures)
    sent_total = sum(per_stream.values())
    refusals: Counter[str] = Counter()
    for ts, _, reason, count in cols["ChatRefusals.Counted"]:
        if lo_s <= _utc_text(ts) <= hi_s:
            refusals[reason] += count
    refused = sum(refusals.values())
    messages = [float(f.messages) for f in figures]
    latency_values = [f.start_latency_ms for f in figures if f.start_latency_ms is not None]
    n_days = len(days)
    log = "the event log"
    metrics = [
        _metric("creators_onboarded", "Creators onboarded (created a channel)",
                float(len(creators)), "creators", 100, ">=", "Channel.Created"),
        _metric("registered_users", "Registered users", float(registered), "users", 500,
                ">=", "User.Registered"),
        _metric("daily_active_creators", "Daily active creators (live that day), average",
                sum(r.active_creators for r in day_rows) / n_days, "creators", 10, ">=",
                "Stream.Started, Stream.Ended"),
        _metric("daily_active_users", "Daily active users (chatted or followed), average",
                sum(r.active_users for r in day_rows) / n_days, "users", 50, ">=",
                "ChatMessage.Sent, Follow.Followed, Follow.Refollowed"),
        _metric("peak_concurrent_viewers", "Peak concurrent viewers (all streams)",
                float(_peak_concurrent(live)), "viewers", 50, ">=",
                "Stream.ViewerCountSampled"),
        _metric("peak_viewers_per_stream", "Peak viewers per stream, median",
                percentile([float(f.peak_viewers) for f in figures], 0.5), "viewers", None,
                ">=", "Stream.ViewerCountSampled"),
        _metric("chat_messages_per_stream_median", "Chat messages per stream, median",
                percentile(messages, 0.5), "messages", 100, ">=", "ChatMessage.Sent"),
        _metric("chat_messages_per_stream_p90", "Chat messages per stream, p90",
                percentile(messages, 0.9), "messages", None, ">=", "ChatMessage.Sent"),
        _metric("creator_return_rate", "Creator return rate (live again within 7 days of "
                "their first stream)", 100.0 * returned / cohort if cohort else None, "%",
                20, ">=", "Stream.Created, Stream.Started",
                None if cohort else "no creator's first stream started in the period at "
                "least 7 days before its end"),
        _metric("stream_start_latency_p95", "Stream start latency (ingest notification to "
                "LIVE), p95", percentile(latency_values, 0.95), "ms", 2000, "<",
                "WebhookReceipt.Received, Stream.Started",
                None if latency_values else "no stream in the period was started by its "
                "encoder"),
        _metric("streaming_uptime", "Streaming uptime (LIVE with the encoder connected)",
                100.0 * (1 - away / live_total) if live_total > 0 else None, "%", 99.9, ">=",
                "Stream.Started, Stream.Ended, Stream.IngestDisconnected, "
                "Stream.IngestReconnected"),
        _metric("viewer_minutes_per_stream", "Viewer-minutes per stream, median",
                percentile([f.viewer_minutes for f in figures], 0.5), "viewer-minutes", None,
                ">=", "Stream.ViewerCountSampled"),
        _metric("failed_chat_messages", "Failed chat messages (refused sends over all "
                "sends)", 100.0 * refused / (sent_total + refused)
                if sent_total + refused else None, "%", 2, "<",
                "ChatMessage.Sent, ChatRefusals.Counted"),
        _metric("chat_message_latency", "Chat message latency", None, "ms", 100, "<",
                "not in " + log + ": a send's delivery is not an event; "
                "scripts/bench_chat.py measures it"),
    ]
    report = Report(since=lo_s, until=hi_s, events=events, metrics=metrics,
                    streams=figures, days=day_rows, refusals=dict(sorted(refusals.items())))
    top = sorted(live.items(), key=lambda kv: -max(c for _, c in kv[1][0].steps(
        kv[1][1], kv[1][2])))[:TOP_STREAMS]
    series = Series(
        viewers={f"{s.title} ({sid[:8]})": [*s.steps(lo, hi), (hi, 0)]
                 for sid, (s, lo, hi) in top},
        chat_bin_s=bin_s,
        chat=sorted((epoch(k + (":00" if bin_len == 16 else ":00:00") + "+00:00"), n)
                    for k, n in per_bin.items()))
    return report, series


def compute_channel(cols: dict[str, list[Row]], channel_id: str, since: datetime,
                    until: datetime) -> ChannelReport:
    """One channel's streams, chat volume, viewer-minutes and followers over the period."""
    lo_t, hi_t = since.timestamp(), until.timestamp()
    lo_s, hi_s = iso(lo_t), iso(hi_t)
    streams = {sid: s for sid, s in _streams(cols).items() if s.channel_id == channel_id}
    live = {sid: (s, *w) for sid, s in streams.items()
            if (w := s.live_within(lo_t, hi_t)) is not None}
    per_stream: Counter[str] = Counter()
    for ts, sid, _ in cols["ChatMessage.Sent"]:
        if sid in live and lo_s <= _utc_text(ts) <= hi_s:
            per_stream[sid] += 1
    latencies = _start_latencies(cols, streams)
    figures = sorted((_figures(s, lo, hi, per_stream.get(sid, 0), latencies.get(sid)
                               if s.start is not None and lo_t <= s.start <= hi_t else None)
                      for sid, (s, lo, hi) in live.items()),
                     key=lambda f: (f.started_at, f.stream_id))

    def follows(kind: str) -> int:
        return sum(1 for ts, _, target_kind, cid in cols[kind]
                   if cid == channel_id and target_kind == "channel"
                   and lo_s <= _utc_text(ts) <= hi_s)

    return ChannelReport(
        channel_id=channel_id, since=lo_s, until=hi_s, streams=figures,
        peak_viewers=max((f.peak_viewers for f in figures), default=0),
        messages=sum(f.messages for f in figures),
        viewer_minutes=sum(f.viewer_minutes for f in figures),
        followers_gained=follows("Follow.Followed") + follows("Follow.Refollowed"),
        followers_lost=follows("Follow.Unfollowed"))


def log_period(store: EventStore) -> tuple[datetime, datetime] | None:
    """The times of the log's first and last events (None for an empty log)."""
    head = store.head()
    if head == 0:
        return None
    first, _ = store.read(0, 1)
    last, _ = store.read(head - 1, 1)
    if not first or not last:
        return None
    return (datetime.fromisoformat(first[0].timestamp),
            datetime.fromisoformat(last[0].timestamp))


def resolve_period(store: EventStore, since: datetime | None, until: datetime | None
                   ) -> tuple[datetime, datetime]:
    """The period asked for, its open ends taken from the log; PeriodError when it ends
    before it starts or the log holds nothing in it."""
    if since is not None and until is not None and until < since:
        raise PeriodError(f"the period ends ({until.isoformat()}) before it starts "
                          f"({since.isoformat()})", field="until")
    bounds = log_period(store)
    if bounds is None:
        raise PeriodError("the event log is empty: nothing to measure", field="since")
    if (since is not None and since > bounds[1]) or (until is not None and until < bounds[0]):
        raise PeriodError(f"no events in the period: the log runs from "
                          f"{bounds[0].isoformat()} to {bounds[1].isoformat()}",
                          field="since" if since is not None and since > bounds[1] else "until")
    return since or bounds[0], until or bounds[1]


def analyse(store: EventStore, since: datetime | None = None, until: datetime | None = None,
            *, on_scanned: Callable[[int], None] | None = None) -> tuple[Report, Series]:
    """The report over the period (the whole log by default), read from `store`."""
    since, until = resolve_period(store, since, until)
    chat = ChatTally(since, until)
    cols = read_columns(store, WANTED, sinks={"ChatMessage.Sent": chat.add},
                        on_scanned=on_scanned)
    return compute(cols, since, until, chat=chat,
                   events=sum(len(rows) for rows in cols.values()) + chat.rows)


def analyse_channel(store: EventStore, channel_id: str, since: datetime | None = None,
                    until: datetime | None = None) -> ChannelReport:
    """One channel's report; only events that name the channel are decoded."""
    if since is not None and until is not None and until < since:
        raise PeriodError(f"the period ends ({until.isoformat()}) before it starts "
                          f"({since.isoformat()})", field="until")
    bounds = log_period(store)
    now = datetime.now(UTC)
    since = since or (bounds[0] if bounds else now)
    until = until or (bounds[1] if bounds else now)
    if until < since:
        raise PeriodError(f"the period ends ({until.isoformat()}) before it starts "
                          f"({since.isoformat()})", field="until")
    wanted = {t: f for t, f in WANTED.items()
              if t.startswith(("Stream.", "ChatMessage.", "Follow.", "WebhookReceipt."))}
    cols: dict[str, Any] = read_columns(store, wanted,
                                        contains=channel_id.replace("-", "").encode())
    return compute_channel(cols, channel_id, since, until)
