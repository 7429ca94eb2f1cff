"""A recording `run_batch` and helpers for the GroupCommitter tests (sync and async)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from commands.group_commit import GroupCommitter

WAIT = 5.0  # generous upper bound for a future to resolve; the happy path takes ms


class Recorder:
    """A run_batch that records batch sizes, can be held closed, and doubles each command;
    negative commands come back as a ValueError for that caller only."""

    def __init__(self, pause_s: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.pause_s = pause_s
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, commands: list[int]) -> Sequence[int | BaseException]:
        self.entered.set()
        self.gate.wait(WAIT)
        self.batches.append(list(commands))
        time.sleep(self.pause_s)
        return [ValueError(f"bad {c}") if c < 0 else c * 2 for c in commands]

    @property
    def sizes(self) -> list[int]:
        return [len(b) for b in self.batches]


def hold_first_batch(gc: GroupCommitter[int, int], recorder: Recorder) -> Future[int]:
    """Submits 0 and keeps its batch running until `recorder.gate` is set, so what is
    submitted meanwhile queues up for the next batch."""
    recorder.gate.clear()
    first = gc.submit(0)
    assert recorder.entered.wait(WAIT)
    return first


def failing_on(recorder: Recorder, poison: int, error: BaseException
               ) -> Callable[[list[int]], Sequence[int | BaseException]]:
    """A run_batch that records like `recorder` but raises `error` for any batch holding
    `poison` (the whole batch fails, as when the database is down)."""

    def run_batch(commands: list[int]) -> Sequence[int | BaseException]:
        results = recorder(commands)
        if poison in commands:
            raise error
        return results

    return run_batch
