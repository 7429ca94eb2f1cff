"""What the operators' endpoints report on: this process itself (its stores answering, its
bus, its chat writer, its supervised tasks and the projectors it runs) and the projections'
positions and lag, all read off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from infra.readstore.database import Database
from projections.base import Projection
from projections.lag import projection_status
from projections.ports import EventLog


class RunnerState(Protocol):
    """A projector as the health checks see it."""

    position: int
    last_error: str | None


class ProcessState:
    """The process as operators see it; built once by the composition root. The relay and
    the runners exist once the process has started, so they are read when asked."""

    def __init__(self, store: EventLog, db: Database, projections: Sequence[Projection], *,
                 stall_s: float, supervisor: Any, chat_alive: Callable[[], bool],
                 bus_state: Callable[[], str], runners: Callable[[], Mapping[str, RunnerState]],
                 runs_relay: Callable[[], bool]) -> None:
        self._store = store
        self._db = db
        self._projections = projections
        self.stall_s = stall_s
        self.supervisor = supervisor
        self._chat_alive = chat_alive
        self._bus_state = bus_state
        self._runners = runners
        self._runs_relay = runs_relay

    async def head(self) -> int:
        """The event log's head (raises when the event store does not answer)."""
        return await asyncio.to_thread(self._store.head)

    async def probe_read_models(self) -> None:
        await asyncio.to_thread(self._db.fetch_one, "SELECT 1 AS ok")

    async def projections(self) -> dict[str, Any]:
        """Each projection's position, lag and last error, and the relay's."""
        return await asyncio.to_thread(projection_status, self._store, self._db,
                                       self._projections, stall_s=self.stall_s)

    def projections_blocking(self) -> dict[str, Any]:
        return projection_status(self._store, self._db, self._projections,
                                 stall_s=self.stall_s)

    def bus(self) -> str:
        return self._bus_state()

    def chat_writer_alive(self) -> bool:
        return self._chat_alive()

    def runners(self) -> Mapping[str, RunnerState]:
        return self._runners()

    def runs_relay(self) -> bool:
        return self._runs_relay()
