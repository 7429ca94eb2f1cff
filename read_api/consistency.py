"""Read-your-writes: a query that names a position (`?after=N`) waits briefly until the
read models it reads have reached it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from domain.errors import DomainError
from infra.readstore.database import Database
from projections import tracking


class NotCaughtUp(DomainError):
    """The read model did not reach the requested position in time."""

    code = "not_caught_up"


class PositionAhead(DomainError):
    """The requested position is past the event store's head: no write has made it yet, so
    waiting cannot help (the client's mistake, answered at once)."""

    code = "position_ahead"


class PositionBoard:
    """Tracks projection positions: local projectors tell it at once, others are polled."""

    def __init__(self, db: Database, *, poll_s: float = 0.01) -> None:
        self.db = db
        self.poll_s = poll_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._head: Callable[[], int] | None = None

    def bind_head(self, head: Callable[[], int]) -> None:
        """Where the event store's head is read (`EventStore.head`), to tell a position
        that does not exist yet from read models that lag."""
        self._head = head

    def bind_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()

    def moved(self, name: str, position: int) -> None:
        """Called from projector threads after a commit."""
        loop, changed = self._loop, self._changed
        if loop is not None and changed is not None and not loop.is_closed():
            loop.call_soon_threadsafe(changed.set)

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        return tracking.positions(self.db, names)

    async def wait(self, names: Sequence[str], position: int | None, timeout: float) -> None:
        """Returns once every named projection is at `position` or beyond; else NotCaughtUp."""
        if not position or position <= 0:
            return
        deadline = time.monotonic() + timeout
        checked_head = False
        while True:
            current = await asyncio.to_thread(self.positions, names)
            behind = [n for n, p in current.items() if p < position]
            if not behind:
                return
            if not checked_head and self._head is not None:
                # Once: a position the client was given by a write is at or below the head
                # from then on, so only a made-up or mistyped one is ever past it.
                checked_head = True
                head = await asyncio.to_thread(self._head)
                if position > head:
                    raise PositionAhead(
                        f"position {position} does not exist yet: the event log ends at "
                        f"{head}; pass a position a write answered with", field="after")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotCaughtUp(
                    f"read model {', '.join(behind)} has not reached position {position} yet; "
                    "retry shortly",
                    field="after",
                )
            changed = self._changed
            if changed is None:
                await asyncio.sleep(min(self.poll_s, remaining))
                continue
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(self.poll_s * 5, remaining))
