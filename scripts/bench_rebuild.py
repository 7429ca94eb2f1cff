"""Benchmark: `aethex projections rebuild chat_history` on PostgreSQL, against reading the
raw notification log in the same run (the machine is shared and noisy, so only the
ratio travels well).

Seeds N chat messages (default one million) into a namespace of its own, then measures
  1. raw: the recorder's `select_notifications` over the whole log, nothing decoded;
  2. decode: `EventStore.read` (decode, upcast, envelope) over the whole log, the path
     the rebuild reads by;
  3. rebuild: the shadow rebuild of chat_history (build, catch up, swap).
Each path runs twice, interleaved; both runs are printed (and appended as a section to
docs/benchmarks.md unless --no-docs).

Run: .venv/bin/python scripts/bench_rebuild.py [--events N] [--batch-size B] [--no-docs]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from commands.create_channel import CreateChannel, create_channel  # noqa: E402
from commands.go_live import GoLive, go_live  # noqa: E402
from commands.register_user import RegisterUser, register_user  # noqa: E402
from domain.chat import ChatMessage  # noqa: E402
from entrypoints.bootstrap import open_read_db  # noqa: E402
from infra.eventstore.event_store import EventStore  # noqa: E402
from infra.settings import Settings, load_settings, postgres_params  # noqa: E402
from projections.base import migrate  # noqa: E402
from projections.chat_history import ChatHistory  # noqa: E402
from tests.unit.support import FakeHasher  # noqa: E402
from workers.rebuild import ShadowRebuild  # noqa: E402

DATABASE_URL = os.environ.get("AETHEX_BENCH_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL = 30_000
RATIO_GOAL = 1 / 3  # of the raw read's rate


def drop(ns: str) -> None:
    with psycopg.connect(**postgres_params(DATABASE_URL), autocommit=True) as conn:
        for schema in (ns, f"{ns}__rebuild_chat_history"):
            conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                psycopg.sql.Identifier(schema)))


def seed(store: EventStore, events: int) -> None:
    """One stream through the command handlers, then chat messages saved 2,000 per
    transaction (the group commit's shape, without its window)."""
    owner = register_user(RegisterUser(email="bench@example.com", username="bencher",
                                       password="correct horse"), store, FakeHasher()).user
    channel = create_channel(CreateChannel(owner_id=owner.id, slug="bench", name="Bench"),
                             store).channel
    stream = go_live(GoLive(actor_id=owner.id, channel_id=channel.id), store).stream
    started = time.perf_counter()
    for start in range(0, events, 2000):
        messages = [ChatMessage(stream_id=stream.id, channel_id=channel.id, author_id=owner.id,
                                username="bencher", display_name="Bencher", badges=[],
                                content=f"message {i}")
                    for i in range(start, min(events, start + 2000))]
        store.save(*messages)
        if start and start % 100_000 == 0:
            print(f"  seeded {start:,} ({start / (time.perf_counter() - started):,.0f}/s)",
                  flush=True)


def read_raw(store: EventStore, head: int) -> float:
    recorder = store.app.recorder
    t0 = time.perf_counter()
    position = 0
    while position < head:
        page = recorder.select_notifications(start=position + 1, limit=5000)
        position = page[-1].id
    return time.perf_counter() - t0


def read_decoded(store: EventStore, head: int) -> float:
    t0 = time.perf_counter()
    position = 0
    while position < head:
        _, position = store.read(position, 5000)
    return time.perf_counter() - t0


def append_docs(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    lead = "\n" if path.exists() else "# Benchmarks\n\n"
    with path.open("a") as f:  # other sections belong to others: append only
        f.write(lead + text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()

    ns = f"bench_rebuild_{os.getpid()}"
    settings: Settings = load_settings({}, database_url=DATABASE_URL, namespace=ns,
                                       data_dir=f"/tmp/{ns}", jwt_secret="x" * 32,
                                       webhook_secret_key="x" * 32)
    db = open_read_db(settings)
    store = EventStore(settings.eventsourcing_env())
    try:
        migrate(db, [ChatHistory()])
        t0 = time.perf_counter()
        seed(store, args.events)
        head = store.head()
        print(f"seeded {head:,} events in {time.perf_counter() - t0:.1f} s", flush=True)

        # Other work shares the machine: each path runs twice, interleaved, and both runs
        # are reported (the spread between them is the noise).
        runs: list[dict[str, float]] = []
        for _ in range(2):
            run = {"raw": read_raw(store, head), "decode": read_decoded(store, head)}
            rebuild = ShadowRebuild(settings, store, db, ChatHistory(),
                                    batch_size=args.batch_size)
            run["rebuild"] = rebuild.run().seconds
            runs.append(run)
        rows = db.fetch_one("SELECT COUNT(*) AS n FROM chat_messages")
        assert rows is not None and rows["n"] == args.events, rows
        paths = [("raw", "raw notification log ", "raw notification log (`select_notifications`, "
                  "nothing decoded)"),
                 ("decode", "decoded envelopes    ", "decoded envelopes (`EventStore.read`)"),
                 ("rebuild", "shadow rebuild + swap", "`aethex projections rebuild chat_history`")]
        for key, label, _ in paths:
            figures = ", ".join(f"run {k + 1} {head / r[key]:>9,.0f} events/s ({r[key]:.1f} s)"
                                for k, r in enumerate(runs))
            print(f"{label} {figures}")
        ratios = [r["raw"] / r["rebuild"] for r in runs]  # rebuild rate / raw rate
        rates = [head / r["rebuild"] for r in runs]
        verdicts = ["meets" if rate >= GOAL else "misses" for rate in rates]
        print("rebuild / raw = " + ", ".join(f"run {k + 1} {x:.2f}" for k, x in enumerate(ratios))
              + " (goal: at least 1/3: " + ", ".join(
                  "met" if x >= RATIO_GOAL else "not met" for x in ratios) + "); "
              + ", ".join(f"run {k + 1} {v} the {GOAL:,} events/s goal"
                          for k, v in enumerate(verdicts)))
        if not args.no_docs:
            when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            table = "".join(
                f"| {doc} | " + " | ".join(f"{head / r[key]:,.0f} ({r[key]:.1f} s)"
                                           for r in runs) + " |\n"
                for key, _, doc in paths)
            met = " and ".join("met" if rate >= GOAL else "not met" for rate in rates)
            append_docs(
                f"## Projection rebuild: `scripts/bench_rebuild.py --events {args.events}`\n\n"
                f"{when}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                f"PostgreSQL on loopback; {head:,} events (chat messages), shadow rebuild "
                f"of `chat_history` in batches of {args.batch_size:,}, including the swap. "
                "Each path ran twice, interleaved (run 1's four paths, then run 2's); both "
                "runs are shown.\n\n"
                "| path | run 1: events/s (seconds) | run 2: events/s (seconds) |\n"
                "| --- | --- | --- |\n" + table + "\n"
                "Rebuild / raw read = " + ", ".join(f"**{x:.2f}**" for x in ratios)
                + f"; the goal of {GOAL:,} events/s is {met} (run 1, run 2).\n")
    finally:
        store.close()
        db.close()
        drop(ns)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
