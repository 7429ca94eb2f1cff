"""`kill -USR1 <pid>` logs where every asyncio task of the process is waiting, awaits
nested all the way down (`process.tasks`): what an operator needs to see when a worker
looks alive and does nothing. A thread dump (py-spy) cannot show this: a suspended
coroutine is on no thread's stack."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def _awaits(awaitable: Any, depth: int = 0) -> list[str]:
    """Where a coroutine is suspended, and what it awaits in turn."""
    lines: list[str] = []
    while awaitable is not None and depth < 40:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            lines.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
            awaitable = getattr(awaitable, "cr_await", None) or getattr(
                awaitable, "gi_yieldfrom", None)
        else:  # a Future (seen through its iterator) or another awaitable: the end
            kind = type(awaitable).__name__
            lines.append("awaiting a Future" if kind == "FutureIter"
                         else f"awaiting {awaitable!r}"[:300])
            break
        depth += 1
    return lines


def task_stacks() -> dict[str, list[str]]:
    """Each task of the running loop, by name: its await chain, outermost first."""
    return {f"{task.get_name()}#{id(task):x}": _awaits(task.get_coro())
            for task in asyncio.all_tasks()}


def log_task_stacks() -> None:
    stacks = task_stacks()
    log.warning("process.tasks", tasks=len(stacks),
                stacks={name: lines for name, lines in sorted(stacks.items())})


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Logs the task stacks on SIGUSR1 (where signals can be handled on this loop)."""
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGUSR1, log_task_stacks)
