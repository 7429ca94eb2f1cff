"""What command handlers need from the outside, as protocols (the event store adapter
implements `Store`; tests may pass it over SQLite in memory)."""

from __future__ import annotations

from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

A = TypeVar("A", bound=Aggregate)


class Store(Protocol):
    def get(self, aggregate_id: UUID, kind: type[A], *, what: str | None = None) -> A: ...
    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None: ...
    def save(self, *aggregates: Aggregate) -> int: ...
    def save_positions(self, *aggregates: Aggregate) -> dict[UUID, int]: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...
