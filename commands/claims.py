"""Taking and freeing unique names inside a command, so the change of name is saved in the
same atomic write as the aggregate that holds it."""

from __future__ import annotations

from uuid import UUID

from commands.ports import Store
from domain.errors import Conflict
from domain.unique_name import UniqueName


def take_name(store: Store, kind: str, name: str, owner_id: UUID, *, field: str,
              taken: str) -> UniqueName | None:
    """The claim to save for `owner_id` to hold `kind:name` (None when it already does);
    Conflict(field) when someone else holds it."""
    existing = store.find(UniqueName.create_id(kind, name), UniqueName)
    if existing is None:
        return UniqueName.claim(kind, name, owner_id)
    if existing.held_by(owner_id):
        return None
    if not existing.released:
        raise Conflict(taken, field=field)
    existing.reclaim(owner_id)
    return existing


def free_name(store: Store, kind: str, name: str, owner_id: UUID) -> UniqueName | None:
    """The claim to save to release `kind:name`, if `owner_id` holds it."""
    if not name:
        return None
    existing = store.find(UniqueName.create_id(kind, name), UniqueName)
    if existing is None or not existing.held_by(owner_id):
        return None
    existing.release()
    return existing
