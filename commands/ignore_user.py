"""IgnoreUser / UnignoreUser: a user hides (or shows again) another user's chat messages in
their own view. Both are idempotent."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.ignore import Ignore
from domain.user import User


class IgnoreUser(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    user_id: UUID
    ignore: bool = True  # False: stop ignoring


def ignore_user(cmd: IgnoreUser, store: Store) -> int:
    """Returns the position of the change, 0 when there was none."""
    existing = store.find(Ignore.create_id(cmd.actor_id, cmd.user_id), Ignore)
    if existing is None:
        if not cmd.ignore:
            return 0
        store.get(cmd.user_id, User, what="user")
        return store.save(Ignore.begin(cmd.actor_id, cmd.user_id))
    if cmd.ignore:
        existing.restart()
    else:
        existing.stop()
    return store.save(existing)
