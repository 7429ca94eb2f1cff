"""Seconds to compute the analytics report over a generated log of 1 million and 5 million
events, beside reading the log itself in the same run (goal: within 3x of the read).

For each size: a month of activity (`scripts/gen_activity.py`, mostly chat and viewer
samples) is written into a fresh SQLite event store (the embedded mode; `--postgres URL`
for PostgreSQL in a schema of its own, dropped afterwards), then timed, best of `--runs`
rounds in which the three take turns:
- read: every stored event, nothing decoded (the library's `select_notifications`);
- envelopes: every event decoded into an envelope (`EventStore.read`, what export reads);
- report: `workers.analytics.metrics.analyse`, the whole report.

    .venv/bin/python -m scripts.bench_analytics            # 1M and 5M, a few minutes each
    .venv/bin/python -m scripts.bench_analytics --sizes 200000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.eventstore.columns import read_raw
from infra.eventstore.event_store import EventStore
from infra.settings import postgres_params
from scripts.gen_activity import generate
from workers.analytics.metrics import analyse


@contextmanager
def fresh_store(postgres: str | None, keep: Path | None = None) -> Iterator[EventStore]:
    if keep is not None:  # a store kept from an earlier run (generated once if empty)
        keep.mkdir(parents=True, exist_ok=True)
        store = EventStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                            "SQLITE_DBNAME": str(keep / "events.sqlite")})
        try:
            yield store
        finally:
            store.close()
        return
    if postgres is None:
        where = Path(tempfile.mkdtemp(prefix="aethex-bench-analytics-"))
        store = EventStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                            "SQLITE_DBNAME": str(where / "events.sqlite")})
        try:
            yield store
        finally:
            store.close()
            shutil.rmtree(where, ignore_errors=True)
        return
    import psycopg

    schema = f"bench_analytics_{uuid.uuid4().hex[:8]}"
    pg = postgres_params(postgres)
    store = EventStore({"PERSISTENCE_MODULE": "eventsourcing.postgres",
                        "POSTGRES_DBNAME": pg["dbname"], "POSTGRES_HOST": pg["host"],
                        "POSTGRES_PORT": pg["port"], "POSTGRES_USER": pg["user"],
                        "POSTGRES_PASSWORD": pg["password"], "POSTGRES_SCHEMA": schema,
                        "CREATE_TABLE": "y"})
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def best_of_each(runs: int, *fns: Callable[[], object]) -> list[float]:
    """Each function's best time over `runs` rounds, the functions taking turns within a
    round, so a busy spell on a shared machine does not fall on one of them only."""
    best = [float("inf")] * len(fns)
    for _ in range(runs):
        for i, fn in enumerate(fns):
            began = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - began)
    return best


def read_envelopes(store: EventStore) -> int:
    position, head, count = 0, store.head(), 0
    while position < head:
        events, position = store.read(position, 20000, stop=head)
        count += len(events)
    return count


def bench(size: int, runs: int, postgres: str | None, keep: Path | None = None) -> None:
    # ~7,000 events per creator: a few streams each, ~2,300 messages per stream.
    creators = max(2, round(size / 7000))
    with fresh_store(postgres, keep / str(size) if keep else None) as store:
        began = time.perf_counter()
        if store.head() == 0:
            generate(store, seed=1, creators=creators, viewers=max(50, creators * 4),
                     chat_per_stream=2000)
        written = store.head()
        made = time.perf_counter() - began
        raw, envelopes, report = best_of_each(
            runs, lambda: read_raw(store), lambda: read_envelopes(store),
            lambda: analyse(store))
    print(f"| {written:>9,} | {made:6.1f} | {raw:6.2f} | {envelopes:6.2f} "
          f"({envelopes / raw:.2f}x) | {report:6.2f} | {report / raw:.2f}x |", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--postgres", metavar="URL", help="a PostgreSQL URL instead of SQLite")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="keep each size's SQLite store in DIR/SIZE/ and reuse it next time "
                        "(generate s is then 0)")
    args = p.parse_args()
    print(f"event store: {'PostgreSQL' if args.postgres else 'SQLite'}; best of {args.runs}")
    print("| events | generate s | read s | envelopes s | report s | report / read |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in args.sizes:
        bench(size, args.runs, args.postgres, args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
