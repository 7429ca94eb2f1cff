"""Group commit: concurrent commands that arrive within a few milliseconds are decided
and saved together by one writer thread, and each caller gets its own result or error."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

import structlog

C = TypeVar("C")
R = TypeVar("R")

_STOP = object()
log = structlog.get_logger(__name__)


class GroupCommitter(Generic[C, R]):
    """Runs `run_batch(commands) -> results-or-exceptions` on batches gathered in a window."""

    def __init__(
        self,
        run_batch: Callable[[list[C]], Sequence[R | BaseException]],
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
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, command: C) -> Future[R]:
        future: Future[R] = Future()
        with self._lock:  # so nothing lands behind the stop marker
            if self._closed:
                raise RuntimeError("the group committer is closed")
            self._queue.put((command, future))
        return future

    async def __call__(self, command: C) -> R:
        return await asyncio.wrap_future(self.submit(command))

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)

    def _gather(self, first: object) -> tuple[list[tuple[C, Future[R]]], bool]:
        batch = [first]
        stopping = False
        deadline = time.monotonic() + self._window_s
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
        return batch, stopping  # type: ignore[return-value]

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stopping = self._gather(first)
            live = [(c, f) for c, f in batch if f.set_running_or_notify_cancel()]
            if live:
                self._execute(live)
            if stopping:
                return

    def _execute(self, batch: list[tuple[C, Future[R]]]) -> None:
        """Never raises: the writer thread must outlive any one batch."""
        try:
            results = list(self._run_batch([c for c, _ in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"run_batch returned {len(results)} results for "
                                   f"{len(batch)} commands")
        except BaseException as e:  # the whole batch failed: every caller hears why
            for _, future in batch:
                future.set_exception(e)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        if self._on_batch is not None:
            try:
                self._on_batch(len(batch))
            except Exception:
                log.exception("group_commit.on_batch_failed")
