"""What routes read: the read models (queries over their rows, and waiting for them to
reach a position the client names) and, where a route must show or check one, the
aggregates themselves. Everything blocking runs off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.ports import Store
from infra.readstore.database import Database
from read_api.consistency import PositionAhead, PositionBoard

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)


class ReadModels:
    """Queries over the read models (`fn(db, *args)`), and read-your-writes waits."""

    def __init__(self, db: Database, positions: PositionBoard, *, wait_s: float) -> None:
        self.db = db
        self.positions = positions
        self.wait_s = wait_s

    async def query(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, self.db, *args, **kwargs)

    async def caught_up(self, names: Sequence[str], after: int | None) -> None:
        """Returns once the named read models have reached `after` (NotCaughtUp if they do
        not in time, PositionAhead for a position no write has made)."""
        await self.positions.wait(names, after, self.wait_s)


class Aggregates:
    """The write model, read: an aggregate to show, or to check who may act on it."""

    def __init__(self, store: Store, head: Callable[[], int]) -> None:
        self.store = store
        self._head = head

    async def get(self, aggregate_id: UUID, kind: type[A], *, what: str | None = None) -> A:
        return await asyncio.to_thread(self.store.get, aggregate_id, kind, what=what)

    async def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        return await asyncio.to_thread(self.store.find, aggregate_id, kind)

    async def head(self) -> int:
        """The event log's last position."""
        return await asyncio.to_thread(self._head)

    async def current(self, after: int | None) -> None:
        """`?after=` on a read of the write model: that is always current, so this returns
        at once, but a position no write has made yet is refused as on every other read."""
        if after is None or after <= 0:
            return
        head = await self.head()
        if after > head:
            raise PositionAhead(f"position {after} does not exist yet: the event log ends at "
                                f"{head}; pass a position a write answered with", field="after")

    async def query(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(store, *args)`: a lookup over the write model (a stream key's channel)."""
        return await asyncio.to_thread(fn, self.store, *args, **kwargs)
