"""BanUser: the channel owner or a moderator bans a user from the channel's chat, or times
them out for a while, and removes their messages of the last minutes in the live stream:
those the chat history holds go in the ban's own transaction, and those committed while
the ban was decided right after it. Rooms hear of the ban from its event (the realtime
module presents `Channel.UserBanned`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.chat import ChatMessage
from domain.errors import ConcurrentChange, Invalid, TooLong
from domain.user import User

MAX_REASON = 500
MAX_TIMEOUT = timedelta(days=14)
REMOVE_RECENT = timedelta(minutes=10)  # how far back a ban removes the user's messages

# The user's messages in a stream since a time, not deleted, as the chat history has them
# once it has caught up with the event log (or as far as it got: the ban goes ahead).
RecentMessages = Callable[[UUID, UUID, datetime], list[UUID]]


class BanUser(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    user_id: UUID
    duration_s: int | None = None  # None: a ban until lifted; else a timeout
    reason: str = ""
    # More of the user's messages to delete with the ban (besides those of the last
    # minutes, which the handler finds); ids of other people's messages are ignored.
    message_ids: tuple[UUID, ...] = ()


class UserBanned(msgspec.Struct, frozen=True, kw_only=True):
    channel: Channel
    until: datetime | None
    removed: list[ChatMessage]
    position: int


def ban_user(cmd: BanUser, store: Store, recent: RecentMessages | None = None,
             now: datetime | None = None) -> UserBanned:
    """Bans, with the user's messages of the last minutes; `removed` holds every message
    deleted, also those found after the ban was saved."""
    now = now or datetime.now(UTC)
    if cmd.duration_s is not None and not 0 < cmd.duration_s <= MAX_TIMEOUT.total_seconds():
        raise Invalid(f"durationSeconds must be 1-{int(MAX_TIMEOUT.total_seconds())}",
                      field="durationSeconds")
    if len(cmd.reason) > MAX_REASON:
        raise TooLong(f"a reason is at most {MAX_REASON} characters", field="reason")
    channel = store.get(cmd.channel_id, Channel)
    channel.require_moderator(cmd.actor_id)  # before saying whether the user exists
    store.get(cmd.user_id, User, what="user")
    until = now + timedelta(seconds=cmd.duration_s) if cmd.duration_s is not None else None
    stream_id = channel.current_stream_id
    since = now - REMOVE_RECENT

    def recent_ids() -> list[UUID]:
        return recent(stream_id, cmd.user_id, since) if recent and stream_id else []

    channel.ban(cmd.user_id, by=cmd.actor_id, until=until, reason=cmd.reason.strip(), now=now)
    removed = _deletable(store, channel, cmd.user_id, cmd.actor_id,
                         [*cmd.message_ids, *recent_ids()])
    position = store.save(channel, *removed)
    # Sends committed while the ban was decided: the ban is in the log now, so once the
    # chat history reaches it, nothing more of theirs can come.
    done = {m.id for m in removed}
    if late := [i for i in recent_ids() if i not in done]:
        removed += _remove_late(store, channel.id, cmd.user_id, cmd.actor_id, late)
    return UserBanned(channel=channel, until=until, removed=removed, position=position)


def _deletable(store: Store, channel: Channel, user_id: UUID, actor_id: UUID,
               message_ids: list[UUID]) -> list[ChatMessage]:
    """The messages among `message_ids` that are the user's in this channel, each marked
    deleted (not saved yet)."""
    return [m for mid in dict.fromkeys(message_ids)
            if (m := store.find(mid, ChatMessage)) is not None
            and m.channel_id == channel.id and m.author_id == user_id
            and m.delete(actor_id, may_moderate=True)]


def _remove_late(store: Store, channel_id: UUID, user_id: UUID, actor_id: UUID,
                 message_ids: list[UUID], attempts: int = 3) -> list[ChatMessage]:
    """Deletes them in a transaction of their own; a race with another deletion is decided
    again here (retrying the whole command would ban twice)."""
    for attempt in range(attempts):
        try:
            return remove_messages(RemoveMessages(actor_id=actor_id, channel_id=channel_id,
                                                  user_id=user_id,
                                                  message_ids=tuple(message_ids)), store)
        except ConcurrentChange:
            if attempt == attempts - 1:
                raise
    return []


class RemoveMessages(msgspec.Struct, frozen=True, kw_only=True):
    """Deletes more of a banned user's messages."""

    actor_id: UUID
    channel_id: UUID
    user_id: UUID
    message_ids: tuple[UUID, ...]


def remove_messages(cmd: RemoveMessages, store: Store) -> list[ChatMessage]:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_moderator(cmd.actor_id)
    removed = _deletable(store, channel, cmd.user_id, cmd.actor_id, list(cmd.message_ids))
    if removed:
        store.save(*removed)
    return removed
