"""BanUser: the channel owner or a moderator bans a user from the channel's chat, or times
them out for a while, and removes their recent messages in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.chat import ChatMessage
from domain.errors import Invalid
from domain.user import User

MAX_REASON = 500
MAX_TIMEOUT = timedelta(days=14)


class BanUser(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    user_id: UUID
    duration_s: int | None = None  # None: a ban until lifted; else a timeout
    reason: str = ""
    # The user's recent messages in the channel (found in the chat history read model):
    # deleted with the ban, atomically. Ids of other people's messages are ignored.
    message_ids: tuple[UUID, ...] = ()


class UserBanned(msgspec.Struct, frozen=True, kw_only=True):
    channel: Channel
    until: datetime | None
    removed: list[ChatMessage]
    position: int


def ban_user(cmd: BanUser, store: Store, now: datetime | None = None) -> UserBanned:
    now = now or datetime.now(UTC)
    if cmd.duration_s is not None and not 0 < cmd.duration_s <= MAX_TIMEOUT.total_seconds():
        raise Invalid(f"durationSeconds must be 1-{int(MAX_TIMEOUT.total_seconds())}",
                      field="durationSeconds")
    if len(cmd.reason) > MAX_REASON:
        raise Invalid(f"a reason is at most {MAX_REASON} characters", field="reason")
    channel = store.get(cmd.channel_id, Channel)
    channel.require_moderator(cmd.actor_id)  # before saying whether the user exists
    store.get(cmd.user_id, User, what="user")
    until = now + timedelta(seconds=cmd.duration_s) if cmd.duration_s is not None else None
    channel.ban(cmd.user_id, by=cmd.actor_id, until=until, reason=cmd.reason.strip(), now=now)
    removed: list[ChatMessage] = []
    for message_id in dict.fromkeys(cmd.message_ids):
        message = store.find(message_id, ChatMessage)
        if (message is not None and message.channel_id == channel.id
                and message.author_id == cmd.user_id
                and message.delete(cmd.actor_id, may_moderate=True)):
            removed.append(message)
    position = store.save(channel, *removed)
    return UserBanned(channel=channel, until=until, removed=removed, position=position)


class RemoveMessages(msgspec.Struct, frozen=True, kw_only=True):
    """Deletes more of a banned user's messages: those committed while the ban was decided."""

    actor_id: UUID
    channel_id: UUID
    user_id: UUID
    message_ids: tuple[UUID, ...]


def remove_messages(cmd: RemoveMessages, store: Store) -> list[ChatMessage]:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_moderator(cmd.actor_id)
    removed = [m for mid in dict.fromkeys(cmd.message_ids)
               if (m := store.find(mid, ChatMessage)) is not None
               and m.channel_id == channel.id and m.author_id == cmd.user_id
               and m.delete(cmd.actor_id, may_moderate=True)]
    if removed:
        store.save(*removed)
    return removed
