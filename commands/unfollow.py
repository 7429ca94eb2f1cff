"""UnfollowTarget: a user stops following a user or a channel (idempotent)."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.errors import Conflict
from domain.follow import Follow, TargetKind


class UnfollowTarget(msgspec.Struct, frozen=True, kw_only=True):
    """The command: who stops following, and which user or channel."""

    actor_id: UUID
    target_kind: TargetKind
    target_id: UUID


def unfollow(cmd: UnfollowTarget, store: Store) -> int:
    """Returns the position of the unfollow event (0 when not following)."""
    for attempt in range(2):
        existing = store.find(Follow.create_id(cmd.actor_id, cmd.target_kind, cmd.target_id),
                              Follow)
        if existing is None:
            return 0
        existing.unfollow()
        try:
            return store.save(existing)
        except Conflict:
            if attempt:
                raise
    raise AssertionError("unreachable")
