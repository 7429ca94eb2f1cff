"""Chat messages: one shape in the history, the send answer and the socket frames
(`projections/chat_history.py` `message_json`)."""

from __future__ import annotations

import msgspec


class MessageAuthor(msgspec.Struct, rename="camel", kw_only=True):
    """Who wrote it, with the badges they had in the channel when they did."""

    id: str
    username: str
    display_name: str
    badges: list[str]


class Message(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """A chat message; `userId` and `badges` repeat `user`'s. `deletedAt` is null except
    where the channel's staff are shown deleted messages."""

    id: str
    stream_id: str
    channel_id: str
    user_id: str
    badges: list[str]
    user: MessageAuthor
    content: str
    created_at: str
    deleted_at: str | None
    position: int


class MessagePage(msgspec.Struct, rename="camel", kw_only=True):
    """Newest first; pass `nextCursor` back as `cursor` (null: the last page)."""

    items: list[Message]
    next_cursor: int | None


class DeletedMessage(msgspec.Struct, rename="camel", kw_only=True):
    """A message soft-deleted (deleting twice is harmless: the first time stands)."""

    id: str
    stream_id: str
    deleted: bool
    deleted_at: str | None
    position: int
