"""The reconnect grace: ends (LIVE -> ENDING) each stream whose encoder went away and did
not come back within the grace.

Deadlines are read from the stream_ingest read model on every pass, so they survive a
restart and any node can run this worker. The end itself is decided on the Stream
aggregate (EndStream with `after_grace`), so a reconnect that the read model has not seen
yet still wins, and two nodes ending the same stream conflict harmlessly.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from uuid import UUID

import structlog

from commands.actors import SystemActor
from commands.end_stream import EndStream, end_stream
from commands.ports import Store
from domain.errors import DomainError
from infra.readstore.database import Database
from projections.stream_ingest import pending_graces

log = structlog.get_logger(__name__)
ACTOR = SystemActor("reconnect-grace")


class ReconnectGrace:
    name = "reconnect_grace"

    def __init__(self, store: Store, db: Database, *, poll_s: float = 0.2) -> None:
        self.store = store
        self.db = db
        self.poll_s = poll_s
        self.ended = 0

    def due(self, now: datetime) -> list[UUID]:
        out = []
        for row in pending_graces(self.db):
            until = datetime.fromisoformat(row["grace_until"]) if row["grace_until"] else None
            if until is not None and until <= now:
                out.append(UUID(row["stream_id"]))
        return out

    def end(self, stream_id: UUID) -> bool:
        try:
            end_stream(EndStream(actor_id=ACTOR, stream_id=stream_id, after_grace=True),
                       self.store)
        except DomainError as e:  # reconnected, or already ended elsewhere
            log.info("reconnect_grace.skipped", stream_id=str(stream_id), reason=e.message)
            return False
        self.ended += 1
        log.info("reconnect_grace.ended", stream_id=str(stream_id))
        return True

    def step(self) -> int:
        return sum(self.end(sid) for sid in self.due(datetime.now(UTC)))

    async def run(self, stopping: asyncio.Event) -> None:
        """Ends due streams until `stopping` is set. A failed pass raises: the supervisor
        logs and counts it and runs this again after a backoff (deadlines are read anew)."""
        log.info("reconnect_grace.started")
        while not stopping.is_set():
            await asyncio.to_thread(self.step)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.poll_s)
