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

    # -- release and reclaim (usernames and emails can change) --------------------
    # A released claim keeps its aggregate (its id is the name), so taking the name again
    # appends to it: two people racing for a freed name still collide on the same version.
    released = False

    class Released(Aggregate.Event):
        owner_id: UUID

        def apply(self, claim: UniqueName) -> None:
            claim.released = True

    class Reclaimed(Aggregate.Event):
        owner_id: UUID

        def apply(self, claim: UniqueName) -> None:
            claim.owner_id = self.owner_id
            claim.released = False

    def held_by(self, owner_id: UUID) -> bool:
        return not self.released and self.owner_id == owner_id

    def release(self) -> None:
        if not self.released:
            self.trigger_event(self.Released, owner_id=self.owner_id)

    def reclaim(self, owner_id: UUID) -> None:
        if self.released:
            self.trigger_event(self.Reclaimed, owner_id=owner_id)
