"""Discovery: pages of channels, streams and categories, each item in the shape its own
route answers."""

from __future__ import annotations

import msgspec

from read_api.views.channel import ChannelPage
from read_api.views.stream import Stream


class ChannelList(msgspec.Struct, rename="camel", kw_only=True):
    """Channels, live ones first by viewers, then by followers; pass `nextCursor` back as
    `cursor` for the next page (null: the last)."""

    items: list[ChannelPage]
    next_cursor: str | None


class StreamList(msgspec.Struct, rename="camel", kw_only=True):
    """Streams, the most watched first, then the newest."""

    items: list[Stream]
    next_cursor: str | None


class Category(msgspec.Struct, rename="camel", kw_only=True):
    """A category public channels are in: how many, how many are live, their viewers."""

    name: str
    channel_count: int
    live_count: int
    viewer_count: int


class CategoryList(msgspec.Struct, rename="camel", kw_only=True):
    """Categories, the most watched first."""

    items: list[Category]
    next_cursor: str | None
