"""Progress bars for the operator commands: on a terminal only, never mixed into data.

A bar is drawn on stderr when stderr is a terminal and the command's data does not go to
a pipe or to that terminal (`export | jq` and `export` on screen show none; `export -o
file` and `export > file` do). `--progress always|never` overrides.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Mode = Literal["auto", "always", "never"]


def _stdout_is_regular_file() -> bool:
    try:
        return stat.S_ISREG(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False


def wants_progress(mode: Mode, *, data_on_stdout: bool) -> bool:
    """Whether to draw a bar (see the module docstring)."""
    if mode != "auto":
        return mode == "always"
    if not sys.stderr.isatty():
        return False
    return not data_on_stdout or _stdout_is_regular_file()


class RateColumn(ProgressColumn):
    """Events per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed and task.elapsed:
            speed = task.completed / task.elapsed
        return Text(f"{speed:,.0f} ev/s" if speed else "- ev/s", style="progress.data.speed")


class Bar:
    """A bar over log positions; `update(position, head)` moves it (a no-op when off)."""

    def __init__(self, progress: Progress | None, description: str, start: int) -> None:
        self.progress = progress
        self.start = start
        self.task = (progress.add_task(description, total=None) if progress is not None
                     else None)

    def update(self, position: int, head: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=max(0, position - self.start),
                                 total=max(1, head - self.start))


@contextmanager
def progress_bar(description: str, *, enabled: bool, start: int = 0) -> Iterator[Bar]:
    """A bar for work over log positions from `start`, with rate and ETA."""
    if not enabled:
        yield Bar(None, description, start)
        return
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
        TextColumn("eta"), TimeRemainingColumn(), TimeElapsedColumn(),
        console=Console(file=sys.stderr), transient=False)
    with progress:
        yield Bar(progress, description, start)
