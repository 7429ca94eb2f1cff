"""GrantModerator: the owner makes a user a moderator of the channel."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.user import User


class GrantModerator(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    user_id: UUID


def grant_moderator(cmd: GrantModerator, store: Store) -> int:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    store.get(cmd.user_id, User, what="user")
    channel.grant_moderator(cmd.user_id)
    return store.save(channel)
