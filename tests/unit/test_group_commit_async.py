"""GroupCommitter's async path: awaiting callers are settled with one loop wake-up per
event loop per batch, and each still gets its own result or error."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from commands.group_commit import GroupCommitter
from tests.unit.group_commit_support import WAIT, Recorder, failing_on, hold_first_batch


class WakeUps:
    """Counts `call_soon_threadsafe` on one loop (each is a self-pipe write and a wake-up)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.count = 0
        self._loop = loop
        self._real: Callable[..., Any] = loop.call_soon_threadsafe

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return self._real(*args, **kwargs)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]

    def restore(self) -> None:
        del self._loop.call_soon_threadsafe  # back to the class's method


async def queued(gc: GroupCommitter[int, int], n: int) -> None:
    """Waits until n commands wait in the queue (the writer is held in an earlier batch)."""
    deadline = time.monotonic() + WAIT
    while gc._queue.qsize() < n:
        assert time.monotonic() < deadline, "callers never queued"
        await asyncio.sleep(0.001)


async def test_many_async_callers_share_a_batch_and_one_wake_up(
    committer: GroupCommitter[int, int], recorder: Recorder
) -> None:
    wake_ups = WakeUps(asyncio.get_running_loop())
    try:
        hold_first_batch(committer, recorder)
        commands = [-i if i % 7 == 0 else i for i in range(1, 301)]
        tasks = [asyncio.create_task(committer(c)) for c in commands]
        await queued(committer, len(commands))
        recorder.gate.set()
        outcomes = await asyncio.wait_for(
            asyncio.gather(*tasks, return_exceptions=True), WAIT)
    finally:
        wake_ups.restore()
    for c, outcome in zip(commands, outcomes, strict=True):
        if c < 0:
            assert isinstance(outcome, ValueError) and str(outcome) == f"bad {c}"
        else:
            assert outcome == c * 2
    assert recorder.batches == [[0], commands]  # they really shared one batch
    assert wake_ups.count == 1  # one wake-up for 300 callers


async def test_a_failed_batch_fails_every_async_caller_of_it() -> None:
    boom = RuntimeError("database down")
    recorder = Recorder()

    gc: GroupCommitter[int, int] = GroupCommitter(failing_on(recorder, 13, boom),
                                                  window_s=0.005)
    try:
        first = hold_first_batch(gc, recorder)
        tasks = [asyncio.create_task(gc(c)) for c in (11, 12, 13)]
        await queued(gc, 3)
        recorder.gate.set()
        outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), WAIT)
        assert all(o is boom for o in outcomes)
        assert first.result(WAIT) == 0
        assert await asyncio.wait_for(gc(5), WAIT) == 10  # the writer survives
    finally:
        gc.close()


async def test_a_caller_cancelled_before_its_batch_is_not_run(
    committer: GroupCommitter[int, int], recorder: Recorder
) -> None:
    hold_first_batch(committer, recorder)
    cancelled = asyncio.create_task(committer(7))
    kept = asyncio.create_task(committer(8))
    await queued(committer, 2)
    cancelled.cancel()
    recorder.gate.set()
    assert await asyncio.wait_for(kept, WAIT) == 16
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert recorder.batches == [[0], [8]]


async def test_a_caller_cancelled_while_its_batch_runs_does_not_break_the_batch(
    recorder: Recorder,
) -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    heard: list[int] = []
    gc: GroupCommitter[int, int] = GroupCommitter(recorder, window_s=0.02,
                                                  on_batch=heard.append)
    try:
        recorder.gate.clear()
        doomed = asyncio.create_task(gc(1))
        kept = asyncio.create_task(gc(2))
        deadline = time.monotonic() + WAIT
        while not recorder.entered.is_set():  # the batch [1, 2] is running
            assert time.monotonic() < deadline
            await asyncio.sleep(0.001)
        doomed.cancel()
        await asyncio.sleep(0)
        recorder.gate.set()
        assert await asyncio.wait_for(kept, WAIT) == 4
        with pytest.raises(asyncio.CancelledError):
            await doomed
        assert await asyncio.wait_for(gc(3), WAIT) == 6
    finally:
        gc.close()
        loop.set_exception_handler(None)
    assert recorder.batches == [[1, 2], [3]]  # the cancelled command was still committed
    assert heard == [2, 1]
    assert errors == []


def test_callers_on_two_event_loops_each_get_their_own_results(recorder: Recorder) -> None:
    gc: GroupCommitter[int, int] = GroupCommitter(recorder, window_s=0.005)
    per_loop = 100
    results: dict[int, list[object]] = {}
    wake_up_counts: dict[int, int] = {}
    failures: list[BaseException] = []

    async def clients(t: int) -> None:
        wake_ups = WakeUps(asyncio.get_running_loop())
        try:
            commands = [t * 1000 + i for i in range(per_loop)] + [-(t * 1000 + 1)]
            results[t] = await asyncio.wait_for(
                asyncio.gather(*(gc(c) for c in commands), return_exceptions=True), WAIT)
            wake_up_counts[t] = wake_ups.count
        finally:
            wake_ups.restore()

    def thread(t: int) -> None:
        try:
            asyncio.run(clients(t))
        except BaseException as e:
            failures.append(e)

    try:
        hold_first_batch(gc, recorder)
        threads = [threading.Thread(target=thread, args=(t,)) for t in (1, 2)]
        for th in threads:
            th.start()
        deadline = time.monotonic() + WAIT
        while gc._queue.qsize() < 2 * (per_loop + 1):  # both loops' callers are waiting
            assert time.monotonic() < deadline
            time.sleep(0.001)
        recorder.gate.set()
        for th in threads:
            th.join(WAIT)
    finally:
        gc.close()
    assert failures == []
    for t in (1, 2):
        *ok, bad = results[t]
        assert ok == [(t * 1000 + i) * 2 for i in range(per_loop)]
        assert isinstance(bad, ValueError) and str(bad) == f"bad {-(t * 1000 + 1)}"
        assert wake_up_counts[t] == 1  # one wake-up per loop for the shared batch
    assert len(recorder.batches) == 2 and len(recorder.batches[1]) == 2 * (per_loop + 1)


def test_a_closed_loop_does_not_kill_the_writer(recorder: Recorder) -> None:
    gc: GroupCommitter[int, int] = GroupCommitter(recorder, window_s=0.001)
    loop = asyncio.new_event_loop()
    try:
        hold_first_batch(gc, recorder)
        task = loop.create_task(gc(5))
        loop.run_until_complete(asyncio.sleep(0.01))  # the caller is queued and waiting
        assert not task.done()
        task.cancel()  # so closing the loop leaves no pending task behind
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        # a pending caller of a loop closed under it: deliver into a closed loop
        orphan_loop = asyncio.new_event_loop()
        orphan = orphan_loop.create_future()
        gc._put((6, orphan, orphan_loop, time.monotonic()))
        orphan_loop.close()
        recorder.gate.set()
        assert gc.submit(7).result(WAIT) == 14
    finally:
        gc.close()
    assert recorder.batches[1:] in ([[6], [7]], [[6, 7]])


async def test_an_undeliverable_result_fails_its_caller_only() -> None:
    def run_batch(commands: list[int]) -> Sequence[int | BaseException]:
        return [StopIteration() if c == 0 else c for c in commands]  # asyncio refuses it

    gc: GroupCommitter[int, int] = GroupCommitter(run_batch, window_s=0.02)
    try:
        bad, ok = await asyncio.wait_for(
            asyncio.gather(gc(0), gc(1), return_exceptions=True), WAIT)
    finally:
        gc.close()
    assert isinstance(bad, RuntimeError)
    assert ok == 1


async def test_awaiting_after_close_raises(recorder: Recorder) -> None:
    gc: GroupCommitter[int, int] = GroupCommitter(recorder)
    gc.close()
    with pytest.raises(RuntimeError, match="closed"):
        await gc(1)


async def test_enqueue_keeps_the_order_of_submission_and_settles_later(
    committer: GroupCommitter[int, int], recorder: Recorder
) -> None:
    """`enqueue` queues at the call, before anything is awaited (a socket's sends keep
    their order under its lock), and its futures share the batch's one wake-up."""
    wake_ups = WakeUps(asyncio.get_running_loop())
    try:
        hold_first_batch(committer, recorder)
        futures = [committer.enqueue(i) for i in range(1, 51)]
        assert committer._queue.qsize() == 50  # queued at once, in this order
        recorder.gate.set()
        results = await asyncio.wait_for(asyncio.gather(*futures), WAIT)
    finally:
        wake_ups.restore()
    assert results == [i * 2 for i in range(1, 51)]
    assert recorder.batches[1] == list(range(1, 51))
    assert wake_ups.count == 1


@pytest.mark.parametrize("thread", ["writer", "finisher"])
async def test_a_group_commit_thread_that_died_is_revived_and_its_death_counted(
        thread: str) -> None:
    """Nothing a batch does ends the writer or the thread that waits for begun saves;
    should one end anyway, the supervised watch starts a new one, which takes what was
    queued meanwhile, and fails once, so the death is logged and counted."""
    from commands.group_commit import _STOP
    from infra.runtime.supervisor import Supervisor

    def begun(commands: list[int]) -> Any:  # a save begun: the finisher ends it
        return lambda: [c * 2 for c in commands]

    gc: GroupCommitter[int, int] = GroupCommitter(begun, window_s=0.001)
    supervisor = Supervisor(backoff_initial_s=0.01, backoff_max_s=0.02)
    stopping = supervisor.stopping
    handle = supervisor.spawn("group-commit-writer", lambda: gc.watch(stopping, every_s=0.01))
    try:
        # The thread ends while the committer is still open.
        (gc._queue if thread == "writer" else gc._finishing).put(_STOP)
        deadline = time.monotonic() + WAIT
        while gc.alive:
            assert time.monotonic() < deadline, f"the {thread} never ended"
            await asyncio.sleep(0.001)
        later = gc.submit(2)  # queued while the thread is gone
        assert await asyncio.wait_for(asyncio.wrap_future(later), WAIT) == 4
        assert gc.alive
        assert handle.failures == 1 and "died" in (handle.last_error or "")
    finally:
        await supervisor.stop()
        gc.close()
