"""RevokeModerator: the owner takes a user's moderator rights away."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel


class RevokeModerator(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    user_id: UUID


def revoke_moderator(cmd: RevokeModerator, store: Store) -> int:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    channel.revoke_moderator(cmd.user_id)
    return store.save(channel)
