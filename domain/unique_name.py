"""Claims on unique names (emails, usernames, channel slugs).

Each claim is an aggregate whose id is derived from the name, so two claims on the same
name collide in the event store (same id, version 1) and the second save fails atomically
with whatever else it was saved with.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


class UniqueName(Aggregate):
    """The fact that `kind:name` belongs to `owner_id`."""

    class Claimed(Aggregate.Created):
        kind: str
        name: str
        owner_id: UUID

    def __init__(self, kind: str, name: str, owner_id: UUID) -> None:
        self.kind = kind
        self.name = name
        self.owner_id = owner_id

    @staticmethod
    def create_id(kind: str, name: str) -> UUID:  # type: ignore[override]
        return uuid5(NAMESPACE_URL, f"/aethex/unique/{kind}/{name.casefold()}")

    @classmethod
    def claim(cls, kind: str, name: str, owner_id: UUID) -> UniqueName:
        return cls._create(cls.Claimed, kind=kind, name=name.casefold(), owner_id=owner_id)
