"""The supervisor: a task that raises is logged, counted and restarted after a growing,
jittered backoff; a task that returns early is restarted too; stop ends them all; no
task's error is left unretrieved."""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from typing import Any

import structlog

from infra.observability import metrics
from infra.runtime.supervisor import Supervisor, working


def failures(task: str, error: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "aethex_task_failures_total", {"task": task, "error": error})
    return value or 0.0


def restarts(task: str) -> float:
    return metrics.REGISTRY.get_sample_value("aethex_task_restarts_total", {"task": task}) or 0.0


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def test_a_task_that_raises_is_logged_counted_and_restarted_with_backoff() -> None:
    supervisor = Supervisor(backoff_initial_s=0.02, backoff_max_s=0.08, rng=lambda: 1.0)
    starts: list[float] = []

    async def flaky() -> None:
        starts.append(time.monotonic())
        if len(starts) <= 4:
            raise ValueError(f"boom {len(starts)}")
        await supervisor.stopping.wait()  # then it works, until asked to stop

    before = failures("unit-flaky", "ValueError")
    before_restarts = restarts("unit-flaky")
    with structlog.testing.capture_logs() as logs:
        handle = supervisor.spawn("unit-flaky", flaky)
        await until(lambda: len(starts) == 5)
        await asyncio.sleep(0.02)
    try:
        assert handle.state == "running"
        assert handle.failures == 4 and handle.runs == 5
        assert handle.last_error == "ValueError: boom 4"
        assert failures("unit-flaky", "ValueError") - before == 4
        assert restarts("unit-flaky") - before_restarts == 4
        failed = [e for e in logs if e["event"] == "supervisor.task_failed"]
        assert [e["error"] for e in failed] == [f"ValueError: boom {i}" for i in (1, 2, 3, 4)]
        assert all(isinstance(e["exc_info"], ValueError) for e in failed)  # the traceback
        # Exponential: 0.02, 0.04, 0.08, then capped at 0.08 (rng 1.0: the top of each range).
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        for gap, expected in zip(gaps, (0.02, 0.04, 0.08, 0.08), strict=True):
            assert expected * 0.9 <= gap < expected + 0.05, gaps
        assert [round(e["restart_in_s"], 3) for e in failed] == [0.02, 0.04, 0.08, 0.08]
    finally:
        await supervisor.stop()


def test_backoff_is_jittered_within_the_upper_half_and_capped() -> None:
    low = Supervisor(backoff_initial_s=1.0, backoff_max_s=8.0, rng=lambda: 0.0)
    high = Supervisor(backoff_initial_s=1.0, backoff_max_s=8.0, rng=lambda: 1.0)
    assert [low.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [high.backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    real = Supervisor(backoff_initial_s=1.0, backoff_max_s=8.0)
    delays = {real.backoff(3) for _ in range(50)}
    assert len(delays) > 1 and all(2.0 <= d <= 4.0 for d in delays)


async def test_a_task_that_returns_is_restarted() -> None:
    supervisor = Supervisor(backoff_initial_s=0.01, backoff_max_s=0.01)
    runs = 0

    async def quits() -> None:
        nonlocal runs
        runs += 1

    before = failures("unit-returns", "returned")
    with structlog.testing.capture_logs() as logs:
        handle = supervisor.spawn("unit-returns", quits)
        await until(lambda: runs >= 3)
    await supervisor.stop()
    assert handle.failures >= 2
    assert handle.last_error == "returned while it should run"
    assert failures("unit-returns", "returned") - before >= 2
    assert any(e["event"] == "supervisor.task_returned" for e in logs)


async def test_stop_ends_every_task_graceful_ones_by_their_stopping_event() -> None:
    supervisor = Supervisor()
    stopping = supervisor.stopping
    finished: list[str] = []

    async def graceful() -> None:
        await stopping.wait()
        finished.append("graceful")

    async def endless() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            finished.append("endless")

    async def deaf() -> None:  # ignores `stopping`: cancelled once the timeout is over
        try:
            await asyncio.Event().wait()
        finally:
            finished.append("deaf")

    handles = [supervisor.spawn("g", graceful), supervisor.spawn("e", endless, graceful=False),
               supervisor.spawn("d", deaf)]
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await supervisor.stop(timeout=0.2)
    assert time.monotonic() - started < 1.0
    assert sorted(finished) == ["deaf", "endless", "graceful"]
    assert all(h.task is not None and h.task.done() for h in handles)
    assert all(h.state == "stopped" for h in handles)
    assert supervisor.tasks == []
    assert not supervisor.stopping.is_set()  # ready for the next start


async def test_a_task_failing_for_longer_than_the_stall_threshold_is_unhealthy() -> None:
    supervisor = Supervisor(backoff_initial_s=0.02, backoff_max_s=0.02, stall_s=0.5,
                            healthy_after_s=0.2)
    broken = {"now": True}

    async def until_fixed() -> None:
        if broken["now"]:
            raise ConnectionError("down")
        await supervisor.stopping.wait()

    with structlog.testing.capture_logs():  # no tracebacks rendered: keeps the timing
        spawned = time.monotonic()
        supervisor.spawn("unit-down", until_fixed)
        try:
            await asyncio.sleep(0.1)
            if time.monotonic() - spawned < 0.4:
                assert supervisor.healthy()  # failing, but not for long yet
            await until(lambda: not supervisor.healthy())
            assert supervisor.failing() == ["unit-down"]
            status = {t["name"]: t for t in supervisor.status()}
            assert status["unit-down"]["lastError"] == "ConnectionError: down"
            assert status["unit-down"]["failingSeconds"] >= 0.5  # rounded to the millisecond
            broken["now"] = False
            await until(lambda: supervisor.healthy(), timeout=2)  # a run that lasted
        finally:
            await supervisor.stop()


async def test_no_task_exception_is_left_unretrieved() -> None:
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    supervisor = Supervisor(backoff_initial_s=0.001, backoff_max_s=0.001)

    async def fails() -> None:
        raise RuntimeError("never retrieved?")

    try:
        supervisor.spawn("unit-retrieved", fails)
        await asyncio.sleep(0.05)
        await supervisor.stop()
        gc.collect()
        await asyncio.sleep(0)
        assert seen == []
    finally:
        loop.set_exception_handler(previous)


async def test_taken_names_get_a_suffix_and_one_task_stops_alone() -> None:
    supervisor = Supervisor()

    async def idle() -> None:
        await asyncio.Event().wait()

    try:
        first = supervisor.spawn("same", idle, graceful=False)
        second = supervisor.spawn("same", idle, graceful=False)
        assert (first.name, second.name) == ("same", "same#2")
        await second.stop()
        assert second.task is not None and second.task.done()
        assert [t.name for t in supervisor.tasks] == ["same"] and first.state == "running"
    finally:
        await supervisor.stop()


async def test_a_run_that_says_it_works_starts_the_backoff_over() -> None:
    """Failures that follow a run which worked (a projector that reconnected and caught up,
    then lost its database again seconds later) are retried at the first delay, not the
    one earlier failures grew to; failures without work in between keep doubling."""
    supervisor = Supervisor(backoff_initial_s=0.02, backoff_max_s=1.0, rng=lambda: 1.0,
                            healthy_after_s=60.0)
    runs: list[int] = []
    first_failure: list[float] = []

    async def task() -> None:
        runs.append(len(runs) + 1)
        if len(runs) == 2:
            first_failure.append(time.monotonic())
        if len(runs) in (4, 5):  # these runs get going before they fail
            working()
        if len(runs) < 6:
            raise ConnectionError(f"away {len(runs)}")
        await supervisor.stopping.wait()

    with structlog.testing.capture_logs() as logs:
        handle = supervisor.spawn("unit-working", task)
        await until(lambda: len(runs) == 6)
    try:
        delays = [round(e["restart_in_s"], 3) for e in logs
                  if e["event"] == "supervisor.task_failed"]
        # 1-3 doubled; 4 worked, so its failure is the first of a new series; so did 5.
        assert delays == [0.02, 0.04, 0.08, 0.02, 0.02], delays
        # Failing since the fifth failure (the last series), not the first.
        assert handle.failing_for() < time.monotonic() - first_failure[0]
    finally:
        await supervisor.stop()


async def test_working_outside_a_supervised_task_is_harmless() -> None:
    working()  # a worker run by hand (a test, a one-off CLI) has no supervisor
