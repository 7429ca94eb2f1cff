"""What every projection is, and the tables of positions `migrate` creates with its own
(the tracking table that makes its effect exactly-once is projections/tracking.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from domain.errors import Invalid
from projections import tracking
from projections.ports import Database, EventEnvelope, Tx

RELAY_POSITION_DDL = """CREATE TABLE IF NOT EXISTS relay_position (
        name TEXT PRIMARY KEY,
        position BIGINT NOT NULL
    )"""

# The tables that hold positions: each projection's and the relay's.
TRACKING_DDL = [tracking.DDL, RELAY_POSITION_DDL]


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


def dumps(value: Any) -> str:
    """Compact JSON for a TEXT column (a tenth of the stdlib's cost; a rebuild writes one
    per row)."""
    return _encode(value).decode()


def loads(value: str | None) -> Any:
    return _decode(value) if value else None


class Projection:
    """A read model. `apply` writes a batch of events' rows inside the caller's
    transaction; what rooms hear is built elsewhere (read_api/realtime)."""

    name: ClassVar[str]
    types: ClassVar[tuple[str, ...]]
    ddl: ClassVar[list[str]]
    tables: ClassVar[tuple[str, ...]]

    @property
    def bindings(self) -> list[str]:
        return [f"{t}.*" for t in self.types]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        raise NotImplementedError


def migrate(db: Database, projections: Sequence[Projection], extra: Sequence[str] = ()) -> None:
    """Creates the tracking tables, every projection's tables and the `extra` ones (a
    worker's own, such as the webhook sender's) (idempotent)."""
    with db.transaction() as tx:
        for statement in [*TRACKING_DDL, *extra]:
            tx.execute(statement)
        for projection in projections:
            for statement in projection.ddl:
                tx.execute(statement)


def page_limit(limit: int) -> int:
    if not 1 <= limit <= 100:
        raise Invalid("limit must be 1-100", field="limit")
    return limit


def page_of(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], int | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (int(rows[-1]["position"]) if more and rows else None)
