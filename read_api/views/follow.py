"""Following users and channels: the change, and pages of followers and followed."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType


class UserFollowChange(msgspec.Struct, rename="camel", kw_only=True):
    """Following a user or not now; `position` 0: nothing changed."""

    user_id: str
    following: bool
    position: int


class ChannelFollowChange(msgspec.Struct, rename="camel", kw_only=True):
    """Following a channel or not now; `position` 0: nothing changed."""

    channel_id: str
    following: bool
    position: int


class ChannelFollowState(msgspec.Struct, rename="camel", kw_only=True):
    """Whether the caller follows the channel, and since when (null: not following)."""

    channel_id: str
    following: bool
    followed_at: str | None


class Follower(msgspec.Struct, rename="camel", kw_only=True):
    """A follower; name fields are null until the users read model has the account."""

    id: str
    username: str | None
    display_name: str | None
    avatar: str | None
    followed_at: str


class FollowerPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Follower]
    next_cursor: int | None


class Followed(msgspec.Struct, rename="camel", kw_only=True):
    """A user (`username`, `displayName`, `avatar`) or a channel (`slug`, `name`) followed;
    names are null until their read model has them."""

    id: str
    followed_at: str
    username: str | UnsetType | None = UNSET
    display_name: str | UnsetType | None = UNSET
    avatar: str | UnsetType | None = UNSET
    slug: str | UnsetType | None = UNSET
    name: str | UnsetType | None = UNSET


class FollowedPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Followed]
    next_cursor: int | None
