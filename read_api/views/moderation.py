"""Bans and timeouts, the moderation log and chat filters."""

from __future__ import annotations

from typing import Any

import msgspec


class BanEntry(msgspec.Struct, rename="camel", kw_only=True):
    """A ban (`until` null) or a running timeout."""

    user_id: str
    banned: bool
    until: str | None
    until_epoch: float | None


class BanList(msgspec.Struct, rename="camel", kw_only=True):
    channel_id: str
    items: list[BanEntry]


class Ban(msgspec.Struct, rename="camel", kw_only=True):
    """A ban or timeout as made: who, until when, why, by whom, and the messages removed."""

    channel_id: str
    user_id: str
    banned: bool
    until: str | None
    until_epoch: float | None
    reason: str
    by: str
    removed_message_ids: list[str]
    position: int


class Unban(msgspec.Struct, rename="camel", kw_only=True):
    """A ban lifted; `position` 0: there was none."""

    channel_id: str
    user_id: str
    banned: bool
    position: int


class ModerationLogEntry(msgspec.Struct, rename="camel", kw_only=True):
    """One moderation action; `id` is its position (the cursor); a bot token's action
    carries the token's name (`actorName`). `details` depends on the
    action (a ban's `until` and `reason`, a filter change's fields, a report's id...)."""

    id: int
    channel_id: str
    action: str
    actor_id: str | None
    actor_name: str | None = None  # set for a bot token's actions: the token's name
    user_id: str | None
    message_id: str | None
    details: dict[str, Any]
    created_at: str


class ModerationLogPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[ModerationLogEntry]
    next_cursor: int | None


class ChatFilterSettings(msgspec.Struct, rename="camel", kw_only=True):
    """A channel's chat filters."""

    channel_id: str
    blocked_terms: list[str]
    default_profanity: bool
    block_links: bool
    slow_mode_seconds: int
    followers_only: bool
    follow_min_age_seconds: int


class ChatFilterChange(ChatFilterSettings, kw_only=True):
    position: int


class IgnoreChange(msgspec.Struct, rename="camel", kw_only=True):
    """Whether the caller ignores the user now; `position` 0: nothing changed."""

    user_id: str
    ignored: bool
    position: int


class IgnoreList(msgspec.Struct, rename="camel", kw_only=True):
    """The ids of the users the caller ignores."""

    items: list[str]
