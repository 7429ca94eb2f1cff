"""FollowTarget: a user follows another user or a channel (following again changes nothing)."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.errors import Conflict
from domain.follow import Follow, TargetKind
from domain.user import User


class FollowTarget(msgspec.Struct, frozen=True, kw_only=True):
    """The command: who follows, and which user or channel."""

    actor_id: UUID
    target_kind: TargetKind
    target_id: UUID


def require_target(store: Store, kind: TargetKind, target_id: UUID) -> None:
    if kind == "user":
        store.get(target_id, User, what="user").require_active()
    else:
        store.get(target_id, Channel, what="channel")


def follow(cmd: FollowTarget, store: Store) -> int:
    """Returns the position of the follow event (0 when already following)."""
    require_target(store, cmd.target_kind, cmd.target_id)
    for attempt in range(2):  # a concurrent first follow of the same pair: reload once
        existing = store.find(Follow.create_id(cmd.actor_id, cmd.target_kind, cmd.target_id),
                              Follow)
        if existing is None:
            existing = Follow.start(cmd.actor_id, cmd.target_kind, cmd.target_id)
        else:
            existing.follow()
        try:
            return store.save(existing)
        except Conflict:
            if attempt:
                raise
    raise AssertionError("unreachable")
