"""A month of activity written into an event store, with seeded randomness, and the answers
every analytics metric must give over it, worked out here as the events are made (not by
the code under test).

Users register, creators open channels and go live (most through their encoder: an
ingest receipt a moment before LIVE), viewers are sampled while they watch, chat, follow;
some encoders drop and come back, some sends are refused. Events are stored as the
application stores them (the library's mapper and recorder), in time order.

    python -m scripts.gen_activity --events 1000000   # into AETHEX_DATABASE_URL / var/
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic

from domain.channel import Channel
from domain.chat import ChatMessage
from domain.chat_refusals import ChatRefusals
from domain.follow import Follow
from domain.stream import Stream
from domain.user import User
from domain.webhook_receipt import WebhookReceipt
from infra.eventstore.event_store import EventStore

MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)
REFUSAL_REASONS = ("rate_limited", "slow_mode", "filtered", "banned", "error")


@dataclass
class Expected:
    """The answers over [start, end]: what `workers.analytics` must compute."""

    start: datetime
    end: datetime
    events: int = 0
    registered_users: int = 0
    creators_onboarded: int = 0
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    active_users: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    active_creators: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    messages_by_day: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refusals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    follows: dict[str, tuple[int, int]] = field(default_factory=dict)

    def days(self) -> list[str]:
        out, day = [], self.start.date()
        while day <= self.end.date():
            out.append(day.isoformat())
            day += timedelta(days=1)
        return out

    def metrics(self) -> dict[str, float | None]:
        """Each metric's value, keyed as the report keys them."""
        s = list(self.streams.values())
        messages = [float(x["messages"]) for x in s]
        days = self.days()
        cohort = returned = 0
        for times in self.first_starts.values():
            times = sorted(times)
            if times[0] <= self.end.timestamp() - 7 * 86400:
                cohort += 1
                returned += any(t - times[0] <= 7 * 86400 for t in times[1:])
        latencies = [x["latency_ms"] for x in s if x["latency_ms"] is not None]
        live = sum(x["live_s"] for x in s)
        away = sum(x["disconnected_s"] for x in s)
        sent = sum(x["messages"] for x in s)
        refused = sum(self.refusals.values())
        return {
            "creators_onboarded": float(self.creators_onboarded),
            "registered_users": float(self.registered_users),
            "daily_active_creators": sum(len(self.active_creators.get(d, ())) for d in days)
            / len(days),
            "daily_active_users": sum(len(self.active_users.get(d, ())) for d in days)
            / len(days),
            "peak_concurrent_viewers": float(self.peak_concurrent()),
            "peak_viewers_per_stream": float(statistics.median(x["peak"] for x in s)),
            "chat_messages_per_stream_median": statistics.median(messages),
            "chat_messages_per_stream_p90": statistics.quantiles(
                messages, n=10, method="inclusive")[8],
            "creator_return_rate": 100.0 * returned / cohort if cohort else None,
            "stream_start_latency_p95": statistics.quantiles(
                latencies, n=20, method="inclusive")[18] if len(latencies) > 1 else None,
            "streaming_uptime": 100.0 * (1 - away / live),
            "viewer_minutes_per_stream": statistics.median(x["viewer_minutes"] for x in s),
            "failed_chat_messages": 100.0 * refused / (sent + refused),
            "chat_message_latency": None,
        }

    def peak_concurrent(self) -> int:
        """The most viewers at once: the total in force, tried at every sample's moment."""
        def in_force(x: dict[str, Any], t: float) -> int:
            if not x["start"] <= t < x["end"]:
                return 0
            count = 0
            for when, c in x["samples"]:
                if when <= t:
                    count = c
            return count

        moments = {t for x in self.streams.values() for t, _ in x["samples"]}
        return max((sum(in_force(x, t) for x in self.streams.values()) for t in moments),
                   default=0)


class _Writer:
    """Stores events in time order through the application's mapper and recorder; an event
    is held until no event still to be made can come before it."""

    def __init__(self, store: EventStore, batch: int = 5000) -> None:
        self.store = store
        self.mapper = store.app.mapper
        self.recorder = store.app.recorder
        self.pending: list[tuple[float, int, Any]] = []
        self.seq = itertools.count()
        self.out: list[Any] = []
        self.batch = batch
        self.written = 0

    def add(self, event: Any) -> None:
        heapq.heappush(self.pending, (event.timestamp.timestamp(), next(self.seq), event))

    def flush_before(self, t: float) -> None:
        while self.pending and self.pending[0][0] < t:
            self.out.append(self.mapper.to_stored_event(heapq.heappop(self.pending)[2]))
            if len(self.out) >= self.batch:
                self._write()

    def close(self) -> None:
        self.flush_before(float("inf"))
        self._write()

    def _write(self) -> None:
        if self.out:
            self.recorder.insert_events(self.out)
            self.written += len(self.out)
            self.out = []


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(round(t, 3), UTC)


def generate(store: EventStore, *, seed: int = 7, creators: int = 8, viewers: int = 40,
             days: int = 30, start: datetime = MONTH_START, chat_per_stream: int = 120,
             on_progress: Any = None) -> Expected:
    """Writes a month into `store` (which should be empty) and returns its answers."""
    rng = random.Random(seed)
    end = start + timedelta(days=days)
    w = _Writer(store)
    exp = Expected(start=start, end=end)
    t0 = start.timestamp()

    def created(cls: type, aggregate: type, aid: UUID, t: float, **fields: Any) -> Any:
        return cls(originator_id=aid, originator_version=1, timestamp=_at(t),
                   originator_topic=get_topic(aggregate), **fields)

    users: list[tuple[UUID, str]] = []
    for i in range(creators + viewers):
        uid = uuid4()
        name = f"user{i}"
        users.append((uid, name))
        w.add(created(User.Registered, User, uid, t0 + 60 + i * 37.0, email=f"{name}@x.test",
                      username=name, display_name=name.title(), password_hash=None))
    exp.registered_users = len(users)
    audience = users[creators:]

    # Creators' channels, and each creator's streams: a first stream in the first three
    # weeks, then (for most) more, some within a week of the first and some later.
    plans: list[tuple[float, int, UUID, UUID, str]] = []
    for i, (uid, name) in enumerate(users[:creators]):
        cid = uuid4()
        w.add(created(Channel.Created, Channel, cid, t0 + 3600 + i * 60.0, owner_id=uid,
                      slug=f"{name}-tv", name=f"{name} TV", description="", category="games",
                      tags=[], is_public=True, stream_key="secret"))
        first = t0 + round(86400 * rng.uniform(1, 20)) + 7 * 3600
        offsets = [0.0, *sorted(rng.uniform(0.5, 12) for _ in range(rng.randint(0, 4)))]
        for k, days_later in enumerate(offsets):
            at = first + round(days_later * 86400)
            if at + 4 * 3600 < end.timestamp():  # every stream ends within the month
                plans.append((at, k, cid, uid, name))
    exp.creators_onboarded = creators
    plans.sort()

    for n, (start_t, k, cid, owner, name) in enumerate(plans):
        w.flush_before(start_t - 120)  # everything before this stream's events is final
        sid = uuid4()
        length = rng.randint(30, 180) * 60.0
        end_t = start_t + length
        w.add(created(Stream.Created, Stream, sid, start_t - 60, channel_id=cid,
                      owner_id=owner, title=f"{name} stream {k + 1}", description="",
                      category=None))
        # The stream's own events, numbered once they are in time order.
        later: list[tuple[float, type, dict[str, Any]]] = [
            (start_t, Stream.Started, {}),
            (end_t, Stream.Ended, {"duration_s": int(length)})]
        latency_ms = None
        if rng.random() < 0.75:  # went live through the encoder: its receipt came first
            received = start_t - rng.randint(50, 1900) / 1000.0
            w.add(created(WebhookReceipt.Received, WebhookReceipt, uuid4(), start_t,
                          provider="nginx-rtmp", event_id=f"publish:{uuid4()}",
                          event_type="publish", received_at=_at(received), channel_id=cid,
                          stream_id=sid, subject=None, outcome="applied: connected"))
            latency_ms = (round(start_t, 3) - round(received, 3)) * 1000.0
        # Viewers: a new count every 1-5 minutes while live, recorded when it changed.
        samples: list[tuple[float, int]] = []
        t, count, peak, viewer_s = start_t, 0, 0, 0.0
        scale = rng.randint(5, 40)
        while True:
            t_next = t + rng.randint(1, 5) * 60.0
            if t_next >= end_t:
                viewer_s += count * (end_t - t)
                break
            viewer_s += count * (t_next - t)
            t = t_next
            new = max(0, min(scale + rng.randint(-5, 5), count + rng.randint(-6, 8)))
            if new != count:
                count = new
                peak = max(peak, count)
                samples.append((t, count))
                later.append((t, Stream.ViewerCountSampled, {"count": count}))
        # The encoder drops once in a while and comes back within its grace.
        away = 0.0
        if rng.random() < 0.3:
            drop = start_t + rng.uniform(0.2, 0.6) * length
            back = drop + rng.randint(2, 9)
            later.append((drop, Stream.IngestDisconnected,
                          {"provider": "nginx-rtmp", "grace_until": _at(drop + 10),
                           "provider_window_s": None}))
            later.append((back, Stream.IngestReconnected, {"provider": "nginx-rtmp"}))
            away = round(back, 3) - round(drop, 3)
        later.sort(key=lambda item: item[0])
        for version, (at_t, cls, extra) in enumerate(later, start=2):
            w.add(cls(originator_id=sid, originator_version=version, timestamp=_at(at_t),
                      channel_id=cid, **extra))
        # Chat, by the audience and now and then the broadcaster.
        messages = rng.randint(chat_per_stream // 3, chat_per_stream * 2)
        for _ in range(messages):
            at = start_t + rng.uniform(1, length - 1)
            author, uname = rng.choice(audience) if rng.random() < 0.9 else (owner, name)
            w.add(created(ChatMessage.Sent, ChatMessage, uuid4(), at, stream_id=sid,
                          channel_id=cid, author_id=author, username=uname,
                          display_name=uname, badges=[], content="gg " * rng.randint(1, 9)))
            day = _at(at).date().isoformat()
            exp.active_users[day].add(str(author))
            exp.messages_by_day[day] += 1
        refused = 0
        for reason in REFUSAL_REASONS:
            if rng.random() < 0.3:
                c = rng.randint(1, 4)
                refused += c
                exp.refusals[reason] += c
                w.add(created(ChatRefusals.Counted, ChatRefusals, uuid4(),
                              start_t + rng.uniform(0, length), stream_id=sid,
                              channel_id=cid, reason=reason, count=c, since=_at(start_t),
                              node="gen"))
        day = _at(start_t).date()
        while day <= _at(end_t).date():
            exp.active_creators[day.isoformat()].add(str(owner))
            day += timedelta(days=1)
        exp.first_starts[str(owner)].append(round(start_t, 3))
        exp.streams[str(sid)] = {
            "channel_id": str(cid), "start": round(start_t, 3), "end": round(end_t, 3),
            "live_s": round(end_t, 3) - round(start_t, 3), "peak": peak,
            "messages": messages, "viewer_minutes": viewer_s / 60.0,
            "latency_ms": latency_ms, "disconnected_s": away,
            "samples": [(round(a, 3), c) for a, c in samples]}
        if on_progress is not None:
            on_progress(n + 1, len(plans))

    # Follows: some of the audience follow channels on some day; a few unfollow later.
    channels: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    creator_channels = sorted({(str(p[2]), p[2]) for p in plans})
    for uid, _ in audience:
        for cid_s, cid in creator_channels:
            if rng.random() < 0.3:
                at = t0 + 86400 * rng.uniform(1, days - 1)
                fid = Follow.create_id(uid, "channel", cid)
                w.add(created(Follow.Followed, Follow, fid, at, follower_id=uid,
                              target_kind="channel", target_id=cid, channel_id=cid))
                exp.active_users[_at(at).date().isoformat()].add(str(uid))
                channels[cid_s][0] += 1
                if rng.random() < 0.2:
                    w.add(Follow.Unfollowed(originator_id=fid, originator_version=2,
                                            timestamp=_at(min(at + 3600, t0 + days * 86400
                                                              - 1)),
                                            follower_id=uid, target_kind="channel",
                                            target_id=cid, channel_id=cid))
                    channels[cid_s][1] += 1
    exp.follows = {k: (v[0], v[1]) for k, v in channels.items()}
    w.close()
    exp.events = w.written
    return exp


def main(argv: list[str] | None = None) -> int:
    from infra.settings import load_settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--creators", type=int, default=8)
    p.add_argument("--viewers", type=int, default=40)
    p.add_argument("--chat-per-stream", type=int, default=120)
    args = p.parse_args(argv)
    store = EventStore(load_settings().eventsourcing_env())
    began = time.perf_counter()
    try:
        exp = generate(store, seed=args.seed, creators=args.creators, viewers=args.viewers,
                       chat_per_stream=args.chat_per_stream)
    finally:
        store.close()
    print(f"wrote {exp.events} events ({len(exp.streams)} streams) in "
          f"{time.perf_counter() - began:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
