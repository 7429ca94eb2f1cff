"""What read models need from outside, as protocols and plain types: the transaction their
rows are written in, the database their queries read, the event as they receive it, and
the event log's head (for lag). The adapters in `infra` provide them; projections import
nothing from `infra`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol

import msgspec

Row = dict[str, Any]
Params = Sequence[Any]


class Tx(Protocol):
    """The statements one transaction can run."""

    def execute(self, sql: str, params: Params = ()) -> int: ...
    def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...
    def fetch_all(self, sql: str, params: Params = ()) -> list[Row]: ...
    def fetch_one(self, sql: str, params: Params = ()) -> Row | None: ...


class Database(Protocol):
    """A read-model database."""

    dialect: Literal["postgres", "sqlite"]

    def transaction(self, *, durable: bool = True) -> Any: ...
    def fetch_all(self, sql: str, params: Params = ()) -> list[Row]: ...
    def fetch_one(self, sql: str, params: Params = ()) -> Row | None: ...
    def close(self) -> None: ...


class EventEnvelope(msgspec.Struct, frozen=True, gc=False, kw_only=True, omit_defaults=True):
    """One event at one position of the log."""

    position: int
    id: str
    aggregate_id: str
    aggregate_version: int
    type: str
    schema_version: int
    timestamp: str
    channel_id: str | None
    data: dict[str, Any]
    # The W3C trace context of what stored it (tracing on); None for older events.
    trace: str | None = None

    @property
    def routing_key(self) -> str:
        """`<Aggregate>.<Event>.<channel id or ->`, for topic-exchange bindings."""
        return f"{self.type}.{self.channel_id or '-'}"


class EventLog(Protocol):
    """The event store, as operators' lag figures read it."""

    def head(self) -> int: ...
    def read(self, after: int, limit: int) -> tuple[list[EventEnvelope], int]: ...
