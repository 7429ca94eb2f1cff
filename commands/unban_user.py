"""UnbanUser: the channel owner or a moderator lifts a ban or a running timeout."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel


class UnbanUser(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    user_id: UUID


class UserUnbanned(msgspec.Struct, frozen=True, kw_only=True):
    channel: Channel
    lifted: bool  # False: there was no ban to lift
    position: int


def unban_user(cmd: UnbanUser, store: Store, now: datetime | None = None) -> UserUnbanned:
    channel = store.get(cmd.channel_id, Channel)
    lifted = channel.unban(cmd.user_id, by=cmd.actor_id, now=now or datetime.now(UTC))
    return UserUnbanned(channel=channel, lifted=lifted, position=store.save(channel) if lifted
                        else 0)
