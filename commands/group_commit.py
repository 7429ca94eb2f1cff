"""Group commit: concurrent commands that arrive within a few milliseconds are decided
and saved together by one writer thread, and each caller gets its own result or error.

Sync callers (`submit`) get a `concurrent.futures.Future`. Async callers (`await
committer(command)`) get an `asyncio.Future` of their own loop, and the writer thread wakes
each event loop once per batch (one `call_soon_threadsafe`) to settle all of that loop's
callers, rather than once per caller: a loop wake-up is a self-pipe write plus a context
switch, which dominated the send path under load.

`run_batch` may return, instead of the results, a function that gives them: its save
begun, waiting only for the database. A second thread then waits for it and settles the
batch's callers, in the order the batches came, while the writer decides the next batch:
the database's work on one batch and the interpreter's on the next overlap. At most one
batch waits for that thread; the writer waits beyond that. A function whose `ready` is
true (`commands.ports.Begun`: the save is done already, as for a small batch) is called
by the writer itself when no earlier batch is still waiting: handing it over would only
add a wait for the interpreter lock, which on a busy API node is much of a chat message's
latency."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

import structlog

C = TypeVar("C")
R = TypeVar("R")

_STOP = object()
log = structlog.get_logger(__name__)

# One queued command: (command, future, loop, monotonic time it was queued). A sync
# caller's future is a `concurrent.futures.Future` and loop is None; an async caller's is
# an `asyncio.Future` of that loop.
_Item = tuple[Any, Any, "asyncio.AbstractEventLoop | None", float]
# What the writer hands to one loop: each future with its result or exception.
_Outcomes = list[tuple["asyncio.Future[Any]", object]]
# What a batch's run gives, or the function that waits for it gives: its results.
Results = Sequence[Any]


class GroupCommitter(Generic[C, R]):
    """Runs `run_batch(commands) -> results-or-exceptions` on batches gathered in a window."""

    def __init__(
        self,
        run_batch: Callable[[list[C]], Sequence[R | BaseException]
                            | Callable[[], Sequence[R | BaseException]]],
        *,
        window_s: float = 0.002,
        max_batch: int = 1000,
        name: str = "group-commit",
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._window_s = window_s
        self._max_batch = max_batch
        self._on_batch = on_batch
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._finishing: queue.Queue[object] = queue.Queue(maxsize=1)
        self._unfinished = 0  # batches handed to the finisher and not yet settled
        self._unfinished_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._finisher = threading.Thread(target=self._finish_loop, name=f"{name}-finish",
                                          daemon=True)
        self._thread.start()
        self._finisher.start()

    def _put(self, item: _Item) -> None:
        with self._lock:  # so nothing lands behind the stop marker
            if self._closed:
                raise RuntimeError("the group committer is closed")
            self._queue.put(item)

    def submit(self, command: C) -> Future[R]:
        """For sync callers: a concurrent future settled by the writer thread."""
        future: Future[R] = Future()
        self._put((command, future, None, time.monotonic()))
        return future

    async def __call__(self, command: C) -> R:
        """For async callers: settled on this loop, in one wake-up shared by the batch."""
        return await self.enqueue(command)

    def enqueue(self, command: C) -> asyncio.Future[R]:
        """Queues now, for callers on a loop that must keep their order of submission but
        await the result later; settled like `__call__`, one wake-up per batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._put((command, future, loop, time.monotonic()))
        return future

    @property
    def alive(self) -> bool:
        """Whether the writer and finishing threads run (what readiness checks): they
        outlive any batch."""
        return self._thread.is_alive() and self._finisher.is_alive() and not self._closed

    def revive(self) -> bool:
        """Starts a new writer or finishing thread where the last one died (a batch's
        failure never ends them, but a bug in them would); True if it had to. Queued
        commands and batches are kept: the new threads take them."""
        with self._lock:
            if self._closed:
                return False
            revived = False
            if not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._thread.name,
                                                daemon=True)
                self._thread.start()
                revived = True
            if not self._finisher.is_alive():
                with self._unfinished_lock:  # what the dead one held is lost with it
                    self._unfinished = self._finishing.qsize()
                self._finisher = threading.Thread(target=self._finish_loop,
                                                  name=self._finisher.name, daemon=True)
                self._finisher.start()
                revived = True
            return revived

    async def watch(self, stopping: asyncio.Event, every_s: float = 0.5) -> None:
        """A supervised task: revives the writer or finishing thread when one died, and
        then fails, so the death is logged and counted like any task's."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), every_s)
            if self.revive():
                raise RuntimeError("a group-commit thread died; a new one runs")

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        # The writer has handed on its last batch: the finisher ends after it.
        with contextlib.suppress(queue.Full):
            self._finishing.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
        self._finisher.join(max(0.0, deadline - time.monotonic()))

    def _gather(self, first: _Item) -> tuple[list[_Item], bool]:
        """The batch closes a window after its first command was queued: under load, what
        queued while the previous batch ran has waited long enough and goes at once."""
        batch = [first]
        stopping = False
        deadline = first[3] + self._window_s
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is _STOP:
                stopping = True
                break
            batch.append(item)
        return batch, stopping

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stopping = self._gather(first)  # type: ignore[arg-type]
            live = [item for item in batch if _still_wanted(item)]
            if live:
                self._execute(live)
            if stopping:
                return

    def _execute(self, batch: list[_Item]) -> None:
        """Never raises: the writer thread must outlive any one batch."""
        try:
            outcome = self._run_batch([item[0] for item in batch])
        except BaseException as e:  # the whole batch failed: every caller hears why
            _deliver(batch, [e] * len(batch))
            return
        if callable(outcome):
            with self._unfinished_lock:
                # Done already, and no batch before it still waiting: settled here, with
                # no hand-over. Otherwise behind those, in order: their messages reach
                # the rooms first, as their positions come first.
                here = getattr(outcome, "ready", False) and not self._unfinished
                if not here:
                    self._unfinished += 1
            if not here:  # its save is begun: the finisher waits for it
                self._finishing.put((batch, outcome))
                return
            try:
                outcome = outcome()
            except BaseException as e:
                _deliver(batch, [e] * len(batch))
                return
        self._settle_batch(batch, outcome)

    def _finish_loop(self) -> None:
        while True:
            item = self._finishing.get()
            if item is _STOP:
                return
            batch, finish = item  # type: ignore[misc]
            try:
                try:
                    results = finish()
                except BaseException as e:  # the whole batch failed: every caller hears
                    _deliver(batch, [e] * len(batch))
                    continue
                self._settle_batch(batch, results)
            finally:
                with self._unfinished_lock:
                    self._unfinished -= 1

    def _settle_batch(self, batch: list[_Item], outcome: Results) -> None:
        try:
            results: list[object] = list(outcome)
            if len(results) != len(batch):
                raise RuntimeError(f"run_batch returned {len(results)} results for "
                                   f"{len(batch)} commands")
        except BaseException as e:
            _deliver(batch, [e] * len(batch))
            return
        _deliver(batch, results)
        if self._on_batch is not None:
            try:
                self._on_batch(len(batch))
            except Exception:
                log.exception("group_commit.on_batch_failed")


def _still_wanted(item: _Item) -> bool:
    """Drops callers that gave up before their batch ran; marks sync futures running."""
    _, future, loop, _ = item
    if loop is None:
        return future.set_running_or_notify_cancel()
    return not future.done()  # read from the writer thread: a stale answer is harmless


def _deliver(batch: list[_Item], outcomes: list[object]) -> None:
    """Settles sync futures here and schedules one settling callback per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, _Outcomes] = {}
    for (_, future, loop, _), outcome in zip(batch, outcomes, strict=True):
        if loop is None:
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        else:
            by_loop.setdefault(loop, []).append((future, outcome))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits these now
            loop.call_soon_threadsafe(_settle, settled)


def _settle(outcomes: _Outcomes) -> None:
    """Runs on the callers' loop: each still-waiting future gets its result or error."""
    for future, outcome in outcomes:
        if future.done():  # its caller was cancelled meanwhile
            continue
        try:
            if isinstance(outcome, BaseException):
                future.set_exception(_for_asyncio(outcome))
            else:
                future.set_result(outcome)
        except Exception as e:  # e.g. StopIteration cannot be set; do not strand the rest
            if not future.done():
                future.set_exception(RuntimeError(f"group commit result not deliverable: {e!r}"))


def _for_asyncio(exc: BaseException) -> BaseException:
    """As `asyncio.wrap_future` converts them, so async callers see the same errors."""
    if type(exc) is concurrent.futures.CancelledError:
        return asyncio.CancelledError(*exc.args)
    if type(exc) is concurrent.futures.InvalidStateError:
        return asyncio.InvalidStateError(*exc.args)
    return exc
