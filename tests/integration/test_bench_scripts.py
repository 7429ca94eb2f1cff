"""The benchmark scripts still run, and what they count can show a failure (tiny sizes;
speed figures are not checked: speed goals live in the scripts' output and the docs,
never in tests). The end-to-end and chat runs are on the topology docker-compose.yml
runs: API node, relay and projectors in their own processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.bench import Histogram, Schedule, ViewerTally, add_counts, parse_messages
from tests.harness import require_services

ROOT = Path(__file__).resolve().parents[2]

LAG = re.compile(r"sender behind schedule \(actual send - due\): p50 [\d.]+ ms, "
                 r"p99 [\d.]+ ms, max [\d.]+ ms \(n=(\d+) sends\)")
LATENCY = re.compile(r"latency due -> frame, every message at every viewer: p50 [\d.]+ ms, "
                     r"p90 [\d.]+ ms, p99 [\d.]+ ms, p99\.9 [\d.]+ ms, max [\d.]+ ms "
                     r"\(n=([\d,]+)\)")


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def frame(*messages: tuple[int, int]) -> bytes:
    """A coalesced frame as the server sends it (compact JSON, one event per message)."""
    events = ",".join(
        '{"event":"chat:message","data":{"id":"m","streamId":"s","channelId":"c",'
        '"user":{"id":"u","username":"b","displayName":"B","badges":[]},'
        f'"content":"{i} chat","createdAt":"2026-12-01T00:00:00+00:00","position":{p}}}}}'
        for i, p in messages)
    return f"[{events}]".encode()


def test_a_duplicate_does_not_hide_a_loss_and_order_follows_the_store() -> None:
    schedule, latency = Schedule(10.0, t0=100.0), Histogram()
    tally = ViewerTally(5)
    # 0 and 1; 1 again; 3 was due after 2 but stored (and so delivered) before it, which
    # is the store's order, not a fault; 2 again; 4 never arrives.
    tally.add(*parse_messages(frame((0, 10), (1, 11))), 100.2, schedule, latency)
    tally.add(*parse_messages(frame((1, 11), (3, 12))), 100.4, schedule, latency)
    tally.add(*parse_messages(frame((2, 13))), 100.5, schedule, latency)
    tally.add(*parse_messages(frame((2, 9)).decode()), 100.6, schedule, latency)
    counts = add_counts([tally.finish(b"\x01" * 5, schedule, latency)])
    assert counts["delivered"] == 4 and counts["lost"] == 1, counts  # 5 arrivals, 4 distinct
    assert counts["doubled"] == 2 and counts["out_of_order"] == 0, counts
    assert counts["viewers_short"] == 1 and counts["unreadable"] == 0, counts

    late = ViewerTally(3)
    late.add(*parse_messages(frame((1, 20), (0, 19))), 101.0, schedule, latency)
    assert late.finish(b"\x01\x01\x00", schedule, Histogram())["out_of_order"] == 1


def test_latency_counts_from_the_due_time_and_unreadable_messages_show() -> None:
    schedule, latency = Schedule(10.0), Histogram()
    tally = ViewerTally(3)
    # Arrives before the schedule's t0 is known: timed once it is.
    tally.add(*parse_messages(frame((2, 5))), 100.45, schedule, latency)
    schedule.t0 = 100.0
    tally.add(*parse_messages(frame((0, 6))), 100.03, schedule, latency)
    found, unreadable = parse_messages(b'{"event":"chat:message","data":{"content":"x"}}')
    tally.add(found, unreadable, 100.5, schedule, latency)
    counts = tally.finish(b"\x01\x01\x01", schedule, latency)
    assert counts["unreadable"] == 1 and counts["lost"] == 1, counts
    assert latency.n == 2
    assert latency.quantile_ms(0.5) == pytest.approx(30.0, abs=0.2)  # 0 was due at 100.0
    assert latency.worst == pytest.approx(0.25)  # 2 was due at 100.2


@pytest.mark.services
def test_bench_chat_counts_every_viewer_by_message() -> None:
    require_services()
    out = run("scripts/bench_chat.py", "--viewers", "20", "--rate", "40", "--seconds", "1",
              "--procs", "2", "--senders", "2", "--drain", "1")
    assert "delivered 800 of 800 to 20 viewers (worst viewer 40 of 40; 0 viewers short)" in out
    assert "lost 0, doubled 0, out of order 0, unexpected 0, unreadable 0" in out, out
    assert "closed early 0;" in out, out
    lag, latency = LAG.search(out), LATENCY.search(out)
    assert lag and lag.group(1) == "40", out
    assert latency and latency.group(1) == "800", out  # every delivery timed, no sample


@pytest.mark.services
def test_bench_end_to_end_counts_every_viewer_by_message() -> None:
    require_services()
    out = run("scripts/bench.py", "--only", "e2e", "--rate", "40", "--seconds", "1",
              "--drain", "1")
    assert "0 errors" in out, out
    assert "delivered 200 of 200 to 5 viewers (worst viewer 40 of 40; 0 viewers short)" in out
    assert "lost 0, doubled 0, out of order 0, unexpected 0, unreadable 0" in out, out
    lag, latency = LAG.search(out), LATENCY.search(out)
    assert lag and lag.group(1) == "40", out
    assert latency and latency.group(1) == "200", out


@pytest.mark.services
def test_bench_commit_prints_both_set_ups_labelled() -> None:
    require_services()
    out = run("scripts/bench.py", "--only", "commit", "--messages", "600", "--threads", "4",
              "--senders", "4,50")
    assert "one save per message (4 concurrent senders: threads; 500 msgs)" in out, out
    assert re.search(r"group commit at 4 senders / one save per message at 4: [\d.]+x "
                     r"\(same concurrency as the baseline;", out), out
    assert re.search(r"group commit at 50 senders / one save per message at 4: [\d.]+x "
                     r"\(NOT the baseline's concurrency \(4\);", out), out
    # Each group commit beside a raw COPY of the very rows it stored, and their ratio.
    copies = re.findall(r"raw COPY of the same (\d+) rows, \d+ per transaction \(median of "
                        r"3\): [\d,]+ rows/s; ratio group commit / raw COPY: [\d.]+", out)
    assert copies == ["500", "600"], out


@pytest.mark.services
def test_bench_parts_times_each_part_in_its_process() -> None:
    require_services()
    out = run("scripts/bench_parts.py", "--events", "3000")
    for part in ("event store writer", "relay (log -> RabbitMQ), own process",
                 "projector chat_history (RabbitMQ -> rows), own process"):
        assert re.search(rf"{re.escape(part)}.*: [\d,]+ events/s in [\d.]+ s; CPU [\d.]+ "
                         r"us/event", out), out


def test_simulate_day_sizes_each_part_from_its_assumptions() -> None:
    base = json.loads(run("scripts/simulate_day.py", "--json"))
    assert len(base["day"]) == 24 and base["peak"]["viewers"] > 1_000_000
    twice = json.loads(run("scripts/simulate_day.py", "--json", "--peak-viewers", "14000000"))
    sockets = "API nodes (sockets)"
    assert twice["machines"][sockets]["count"] > base["machines"][sockets]["count"]
    # A log twice as fast needs no more shards than before.
    faster = json.loads(run("scripts/simulate_day.py", "--json", "--store-rows-per-s",
                            "80000"))
    store = "event store (PostgreSQL log shards)"
    assert faster["machines"][store]["count"] <= base["machines"][store]["count"]


@pytest.mark.services
def test_bench_pipeline_times_each_stage() -> None:
    require_services()
    out = run("scripts/bench.py", "--only", "pipeline", "--pipeline-rate", "40", "--seconds",
              "1", "--drain", "1")
    assert "open loop, 40 msg/s due for 1 s: 0 errors" in out, out
    assert LAG.search(out), out
    for stage in ("saved (group commit answered)", "rooms (the live feed delivered)",
                  "projected (chat_history committed)"):
        assert re.search(rf"due -> {re.escape(stage)}: p50 .* \(n=40\)", out), out
    assert "rooms: delivered 40 of 40" in out and "lost 0, doubled 0" in out, out
