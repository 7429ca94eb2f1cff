"""Channels: a channel as `GET /api/channels/{slug}` shows it (`projections/channel_page.py`'s
view), the same shape in every list of channels."""

from __future__ import annotations

import msgspec

from read_api.views.stream import Stream


class ChannelCreator(msgspec.Struct, rename="camel", kw_only=True):
    """The channel's owner; names are null until the users read model has the account."""

    id: str
    username: str | None
    display_name: str | None


class ChannelPage(msgspec.Struct, rename="camel", kw_only=True):
    """A channel's public page: who runs it, live state, its current stream and counts."""

    id: str
    slug: str
    name: str
    description: str
    category: str
    tags: list[str]
    is_public: bool
    creator: ChannelCreator
    follower_count: int
    view_count: int
    is_live: bool
    viewer_count: int
    current_stream: Stream | None
    moderator_ids: list[str]
    created_at: str
    updated_at: str
