"""One supervisor for every long-running task of a process.

Each task is a coroutine factory: the supervisor runs it, and when it raises (or returns
while the process is not stopping, which a worker loop never should) logs the error with
its traceback, counts it in `/metrics` and runs the factory again after an exponential
backoff with jitter. A fresh run builds its connections, channels and consumers anew, so
nothing that broke is reused. Nothing a task raises is left for asyncio's "exception was
never retrieved": the supervisor retrieves every outcome.

`status()` says, per task, whether it runs, how often it failed and why; `healthy()` is
false while a task has been failing for longer than the stall threshold (it may restart in
between, but no run lasted long enough to count as recovered).

A run has recovered once it lasted `healthy_after_s`, or as soon as the task itself says
it works again (`working()`: a projector connected and caught up, the relay published): the
backoff then starts over, so the next fault, even seconds later, is retried at once rather
than after the delay the last one grew to.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog

from infra.observability import metrics, sentry

log = structlog.get_logger(__name__)

# The supervised task whose run this is (tasks it starts inherit it).
_current: contextvars.ContextVar[Supervised | None] = contextvars.ContextVar(
    "aethex_supervised", default=None)


def working() -> None:
    """Called by a supervised task once it has done real work again (connected, read,
    wrote): its run counts as recovered. Outside a supervised task, nothing happens."""
    t = _current.get()
    if t is not None:
        t.working = True

TaskFactory = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Supervised:
    """One supervised task: its name, its state and its history of failures."""

    name: str
    factory: TaskFactory
    supervisor: Supervisor
    state: str = "starting"  # starting, running, backoff, stopped
    runs: int = 0
    failures: int = 0
    last_error: str | None = None
    started_at: float = 0.0  # monotonic time of the current run's start
    failing_since: float | None = None  # monotonic time of the first failure not recovered
    graceful: bool = True  # watches `stopping`; else cancelled at once on stop
    working: bool = False  # this run said it works (`working()`)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def failing_for(self, now: float | None = None) -> float:
        """Seconds since the first failure that no healthy run has followed (0: none)."""
        now = time.monotonic() if now is None else now
        self._settle(now)
        return 0.0 if self.failing_since is None else now - self.failing_since

    def _settle(self, now: float) -> None:
        # A run that has lasted `healthy_after_s` recovered from the failures before it.
        if (self.failing_since is not None and self.state == "running"
                and (self.working or now - self.started_at >= self.supervisor.healthy_after_s)):
            self.failing_since = None

    async def stop(self, timeout: float = 5.0) -> None:
        """Stops this task alone (cancelled after `timeout`); the others go on."""
        self.supervisor._remove(self)
        task = self.task
        if task is None or task.done():
            self.state = "stopped"
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(task), timeout)
        self.state = "stopped"

    def snapshot(self, now: float) -> dict[str, Any]:
        """JSON-ready: what the health endpoints show."""
        failing = self.failing_for(now)
        return {"name": self.name, "state": self.state, "runs": self.runs,
                "failures": self.failures, "lastError": self.last_error,
                "failingSeconds": round(failing, 3)}


class Supervisor:
    """Runs named tasks, restarting each one that fails or returns early.

    Backoff: `backoff_initial_s` doubled per consecutive failure up to `backoff_max_s`,
    each delay drawn from its upper half (jitter, so tasks that failed together do not
    retry together). A run that lasted `healthy_after_s` resets the doubling."""

    def __init__(self, *, backoff_initial_s: float = 0.1, backoff_max_s: float = 5.0,
                 healthy_after_s: float = 10.0, stall_s: float = 30.0,
                 rng: Callable[[], float] = random.random) -> None:
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.healthy_after_s = healthy_after_s
        self.stall_s = stall_s
        self._rng = rng
        self._tasks: dict[str, Supervised] = {}
        self._stopping: asyncio.Event | None = None

    @property
    def stopping(self) -> asyncio.Event:
        """Set by `stop`: workers finish their current step and return."""
        if self._stopping is None:
            self._stopping = asyncio.Event()
        return self._stopping

    @property
    def tasks(self) -> list[Supervised]:
        return list(self._tasks.values())

    def task(self, name: str) -> Supervised:
        return self._tasks[name]

    def backoff(self, failures_in_a_row: int) -> float:
        """The delay before the next run after `failures_in_a_row` (1 or more) failures."""
        ceiling = min(self.backoff_max_s,
                      self.backoff_initial_s * 2 ** max(0, failures_in_a_row - 1))
        return ceiling / 2 + self._rng() * ceiling / 2

    def spawn(self, name: str, factory: TaskFactory, *, graceful: bool = True) -> Supervised:
        """Starts `factory()` under supervision; a taken name gets a `#n` suffix.

        `graceful`: the task returns by itself once `stopping` is set (and is cancelled
        only if it outstays the stop's timeout); otherwise it is cancelled at once."""
        unique, n = name, 1
        while unique in self._tasks:
            n += 1
            unique = f"{name}#{n}"
        handle = Supervised(unique, factory, self, graceful=graceful)
        self._tasks[unique] = handle
        handle.task = asyncio.create_task(self._supervise(handle), name=unique)
        handle.task.add_done_callback(self._retrieve)
        return handle

    def _remove(self, handle: Supervised) -> None:
        if self._tasks.get(handle.name) is handle:
            del self._tasks[handle.name]

    @staticmethod
    def _retrieve(task: asyncio.Task[None]) -> None:
        # The supervising loop itself should never raise; if it does, say so loudly
        # rather than leave the error for the garbage collector to mention.
        if not task.cancelled() and task.exception() is not None:
            log.error("supervisor.crashed", task=task.get_name(), exc_info=task.exception())

    async def _supervise(self, t: Supervised) -> None:
        in_a_row = 0
        stopping = self.stopping
        while not stopping.is_set():
            t.state, t.runs, t.started_at = "running", t.runs + 1, time.monotonic()
            t.working = False
            error: BaseException | None = None
            token = _current.set(t)
            try:
                await t.factory()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    t.state = "stopped"
                    raise
                # Raised inside the task without anyone cancelling it (a library's
                # internal cancellation): a failure like any other.
                error = RuntimeError("cancelled from within")
            except Exception as e:
                error = e
            finally:
                _current.reset(token)
            if stopping.is_set():
                break
            now = time.monotonic()
            if t.working or now - t.started_at >= self.healthy_after_s:
                in_a_row = 0
                t.failing_since = None
            in_a_row += 1
            delay = self.backoff(in_a_row)
            t.failures += 1
            t.failing_since = t.failing_since if t.failing_since is not None else now
            t.state = "backoff"
            if error is None:
                t.last_error = "returned while it should run"
                metrics.TASK_FAILURES.labels(t.name, "returned").inc()
                log.error("supervisor.task_returned", task=t.name, restart_in_s=round(delay, 3),
                          failures=t.failures)
            else:
                t.last_error = f"{type(error).__name__}: {error}"
                metrics.TASK_FAILURES.labels(t.name, type(error).__name__).inc()
                log.error("supervisor.task_failed", task=t.name, error=t.last_error,
                          restart_in_s=round(delay, 3), failures=t.failures, exc_info=error)
                sentry.report(error, task=t.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            if stopping.is_set():
                break
            metrics.TASK_RESTARTS.labels(t.name).inc()
            log.info("supervisor.task_restarted", task=t.name, run=t.runs + 1)
        t.state = "stopped"

    def status(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [t.snapshot(now) for t in self._tasks.values()]

    def failing(self) -> list[str]:
        """Tasks that have been failing for longer than the stall threshold."""
        now = time.monotonic()
        return [t.name for t in self._tasks.values() if t.failing_for(now) > self.stall_s]

    def healthy(self) -> bool:
        return not self.failing()

    async def stop(self, timeout: float = 5.0) -> None:
        """Asks every task to stop (`stopping`), waits up to `timeout`, then cancels the
        rest. Ready to run new tasks afterwards."""
        self.stopping.set()
        handles = list(self._tasks.values())
        tasks = [t.task for t in handles if t.task is not None and not t.task.done()]
        for t in handles:
            if not t.graceful and t.task is not None:
                t.task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for t in handles:
            t.state = "stopped"
        self._tasks.clear()
        self._stopping = None
