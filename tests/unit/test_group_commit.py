"""GroupCommitter: batching of concurrent submits, per-caller results and errors, close."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout

import pytest

from commands.group_commit import GroupCommitter

from .group_commit_support import WAIT, Recorder, failing_on, hold_first_batch


def test_concurrent_submits_are_batched_and_each_gets_its_own_result() -> None:
    recorder = Recorder(pause_s=0.02)
    gc: GroupCommitter[int, int] = GroupCommitter(recorder, window_s=0.005)
    n = 60
    barrier = threading.Barrier(n)
    results: dict[int, int] = {}

    def client(i: int) -> None:
        barrier.wait()
        results[i] = gc.submit(i).result(timeout=WAIT)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    gc.close()

    assert results == {i: i * 2 for i in range(n)}
    assert sum(recorder.sizes) == n
    assert sorted(c for b in recorder.batches for c in b) == list(range(n))
    assert len(recorder.batches) < n
    assert max(recorder.sizes) > 1


def test_submit_order_is_kept_within_a_batch(
    committer: GroupCommitter[int, int], recorder: Recorder
) -> None:
    first = hold_first_batch(committer, recorder)
    futures = [committer.submit(i) for i in range(1, 11)]
    recorder.gate.set()
    assert [f.result(WAIT) for f in futures] == [i * 2 for i in range(1, 11)]
    assert first.result(WAIT) == 0
    assert recorder.batches == [[0], list(range(1, 11))]


def test_an_exception_result_goes_to_its_caller_only(
    committer: GroupCommitter[int, int], recorder: Recorder
) -> None:
    first = hold_first_batch(committer, recorder)
    ok1, bad, ok2 = committer.submit(1), committer.submit(-1), committer.submit(2)
    recorder.gate.set()
    assert first.result(WAIT) == 0
    assert ok1.result(WAIT) == 2
    assert ok2.result(WAIT) == 4
    with pytest.raises(ValueError, match="bad -1"):
        bad.result(WAIT)
    assert recorder.batches[1] == [1, -1, 2]  # they really shared a batch


def test_an_exception_raised_by_run_batch_goes_to_every_caller_of_that_batch() -> None:
    recorder = Recorder()
    boom = RuntimeError("database down")

    gc: GroupCommitter[int, int] = GroupCommitter(failing_on(recorder, 13, boom),
                                                  window_s=0.005)
    try:
        first = hold_first_batch(gc, recorder)
        doomed = [gc.submit(c) for c in (11, 12, 13)]
        recorder.gate.set()
        assert first.result(WAIT) == 0  # an earlier batch is unaffected
        for f in doomed:
            with pytest.raises(RuntimeError) as info:
                f.result(WAIT)
            assert info.value is boom
        # the writer survives and serves the next batch
        assert gc.submit(5).result(WAIT) == 10
    finally:
        gc.close()


def test_max_batch_bounds_the_batch_size(recorder: Recorder) -> None:
    gc: GroupCommitter[int, int] = GroupCommitter(recorder, window_s=0.05, max_batch=4)
    try:
        hold_first_batch(gc, recorder)
        futures = [gc.submit(i) for i in range(1, 11)]
        recorder.gate.set()
        assert [f.result(WAIT) for f in futures] == [i * 2 for i in range(1, 11)]
    finally:
        gc.close()
    assert recorder.sizes == [1, 4, 4, 2]


def test_on_batch_hears_each_successful_batch_size(recorder: Recorder) -> None:
    heard: list[int] = []
    gc: GroupCommitter[int, int] = GroupCommitter(recorder, window_s=0.005,
                                                  on_batch=heard.append)
    try:
        hold_first_batch(gc, recorder)
        futures = [gc.submit(i) for i in range(1, 4)]
        recorder.gate.set()
        for f in futures:
            f.result(WAIT)
    finally:
        gc.close()
    assert heard == [1, 3]


def test_a_cancelled_submit_is_not_run(
    committer: GroupCommitter[int, int], recorder: Recorder
) -> None:
    hold_first_batch(committer, recorder)
    cancelled, kept = committer.submit(7), committer.submit(8)
    assert cancelled.cancel()
    recorder.gate.set()
    assert kept.result(WAIT) == 16
    assert recorder.batches[1] == [8]


async def test_awaiting_the_committer(committer: GroupCommitter[int, int]) -> None:
    assert await committer(21) == 42
    with pytest.raises(ValueError):
        await committer(-4)


def test_close_drains_what_was_submitted_then_stops_the_thread(recorder: Recorder) -> None:
    gc: GroupCommitter[int, int] = GroupCommitter(recorder, window_s=0.001, max_batch=2)
    hold_first_batch(gc, recorder)
    futures = [gc.submit(i) for i in range(1, 8)]
    threading.Timer(0.05, recorder.gate.set).start()
    gc.close()
    assert not gc._thread.is_alive()
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == [i * 2 for i in range(1, 8)]


def test_submit_after_close_raises(recorder: Recorder) -> None:
    gc: GroupCommitter[int, int] = GroupCommitter(recorder)
    gc.close()
    gc.close()  # idempotent
    assert not gc._thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        gc.submit(1)
    assert recorder.batches == []


# -- failures after run_batch must not wedge the writer ------------------------------------

def test_a_failing_on_batch_hook_still_delivers_results_and_keeps_the_writer(
    recorder: Recorder,
) -> None:
    """The batch was committed; a metrics hook failing must not leave its callers (and
    every later caller) waiting forever."""

    def broken_hook(size: int) -> None:
        raise RuntimeError("metrics backend down")

    gc: GroupCommitter[int, int] = GroupCommitter(recorder, window_s=0.001,
                                                  on_batch=broken_hook)
    try:
        first = gc.submit(1)
        try:
            result = first.result(timeout=1.0)
        except FutureTimeout:
            pytest.fail("the caller never heard back: on_batch raised in the writer thread")
        assert result == 2
        assert gc.submit(2).result(timeout=1.0) == 4
    finally:
        gc.close(timeout=1.0)


def test_a_run_batch_with_too_few_results_fails_its_callers_and_keeps_the_writer() -> None:
    def short(commands: list[int]) -> Sequence[int | BaseException]:
        return [c for c in commands if c != 99]  # forgets one result

    gc: GroupCommitter[int, int] = GroupCommitter(short, window_s=0.001)
    try:
        future = gc.submit(99)
        try:
            exc = future.exception(timeout=1.0)
        except FutureTimeout:
            pytest.fail("the caller never heard back: the writer thread died on zip(strict)")
        assert exc is not None
        assert gc.submit(3).result(timeout=1.0) == 3
    finally:
        gc.close(timeout=1.0)


def test_commands_that_queued_behind_a_running_batch_go_without_a_further_window() -> None:
    """A batch closes a window after its first command was queued, not after the writer
    got to it: under load the next batch's commands have already waited."""
    window = 0.2
    recorder = Recorder()
    started: list[float] = []

    def run_batch(commands: list[int]) -> Sequence[int | BaseException]:
        started.append(time.monotonic())
        return recorder(commands)

    gc: GroupCommitter[int, int] = GroupCommitter(run_batch, window_s=window)
    try:
        recorder.gate.clear()  # the first batch runs until released
        submitted = time.monotonic()
        first = gc.submit(0)
        assert recorder.entered.wait(WAIT)
        queued = [gc.submit(i) for i in (1, 2, 3)]
        time.sleep(window * 1.5)  # longer than a window: these have waited enough
        released = time.monotonic()
        recorder.gate.set()
        assert [f.result(WAIT) for f in queued] == [2, 4, 6] and first.result(WAIT) == 0
        assert recorder.batches == [[0], [1, 2, 3]]
        assert started[1] - released < window / 2  # not another whole window
        # The first batch did wait: it met a quiet writer, so it waited its whole window
        # (less a little for the timer's granularity) for others to join it.
        assert started[0] - submitted >= window * 0.9
    finally:
        gc.close()


class TwoSteps:
    """A run_batch that returns a function waiting for a gate: a save begun, whose
    database has not answered yet."""

    def __init__(self) -> None:
        self.started: list[list[int]] = []
        self.finished: list[list[int]] = []
        self.gates: list[threading.Event] = []
        self.lock = threading.Lock()

    def __call__(self, commands: list[int]) -> object:
        gate = threading.Event()
        with self.lock:
            self.started.append(list(commands))
            self.gates.append(gate)

        def finish() -> list[object]:
            assert gate.wait(WAIT)
            if -1 in commands:
                raise ValueError("the database refused the batch")
            with self.lock:
                self.finished.append(list(commands))
            return [c * 2 for c in commands]
        return finish

    def wait_started(self, n: int) -> None:
        deadline = time.monotonic() + WAIT
        while len(self.started) < n:
            assert time.monotonic() < deadline, f"{n} batches never started"
            time.sleep(0.001)


def test_the_next_batch_starts_while_the_last_one_waits_for_the_database() -> None:
    steps = TwoSteps()
    gc: GroupCommitter[int, int] = GroupCommitter(steps, window_s=0.001)  # type: ignore[arg-type]
    try:
        first = gc.submit(1)
        steps.wait_started(1)
        second = gc.submit(2)
        steps.wait_started(2)  # begun while the first still waits
        assert not first.done() and not second.done() and steps.finished == []
        steps.gates[1].set()
        time.sleep(0.02)
        assert not second.done()  # settled in the order the batches came
        steps.gates[0].set()
        assert first.result(WAIT) == 2 and second.result(WAIT) == 4
        assert steps.finished == [[1], [2]]
    finally:
        for gate in steps.gates:
            gate.set()
        gc.close()
    assert not gc._thread.is_alive() and not gc._finisher.is_alive()


def test_a_batch_refused_when_the_database_answers_fails_its_callers_only() -> None:
    steps = TwoSteps()
    gc: GroupCommitter[int, int] = GroupCommitter(steps, window_s=0.001)  # type: ignore[arg-type]
    try:
        bad = gc.submit(-1)
        steps.wait_started(1)
        good = gc.submit(3)
        steps.wait_started(2)
        for gate in steps.gates:
            gate.set()
        with pytest.raises(ValueError, match="refused"):
            bad.result(WAIT)
        assert good.result(WAIT) == 6
        assert gc.alive
    finally:
        gc.close()


def test_close_waits_for_the_batch_the_database_still_holds() -> None:
    steps = TwoSteps()
    gc: GroupCommitter[int, int] = GroupCommitter(steps, window_s=0.001)  # type: ignore[arg-type]
    future = gc.submit(5)
    steps.wait_started(1)
    threading.Timer(0.05, steps.gates[0].set).start()
    gc.close()
    assert future.result(0) == 10
    assert not gc._finisher.is_alive()


def test_a_batch_already_saved_is_settled_by_the_writer_when_nothing_waits() -> None:
    """No hand-over for a save that is done (a small batch): the writer settles it, and
    behind a batch still waiting for the database it waits its turn."""
    from commands.group_commit import _STOP
    from commands.ports import Begun

    gate = threading.Event()

    def run(commands: list[int]) -> object:
        if commands == [1]:
            return lambda: [2] if gate.wait(WAIT) else []
        return Begun.done([c * 2 for c in commands])

    gc: GroupCommitter[int, int] = GroupCommitter(run, window_s=0.001)  # type: ignore[arg-type]
    try:
        first = gc.submit(1)
        deadline = time.monotonic() + WAIT
        while not gc._unfinished:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        behind = gc.submit(2)
        time.sleep(0.05)
        assert not behind.done()  # its messages must not reach the rooms before the first's
        gate.set()
        assert first.result(WAIT) == 2 and behind.result(WAIT) == 4
        # Nothing waits now: with no finisher at all, a done save is still settled.
        while gc._unfinished:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        gc._finishing.put(_STOP)
        gc._finisher.join(WAIT)
        assert gc.submit(3).result(WAIT) == 6
    finally:
        gate.set()
        gc.close()
