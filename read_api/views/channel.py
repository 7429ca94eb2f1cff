"""Channels: a channel as `GET /api/channels/{slug}` shows it (`projections/channel_page.py`'s
view), the same shape in every list of channels."""

from __future__ import annotations

import msgspec

from read_api.views.stream import Stream
from read_api.views.upload import UploadedImage


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
    avatar: str | None
    banner: str | None
    stream_url: str | None  # where encoders publish (the key is the owner's, elsewhere)
    creator: ChannelCreator
    follower_count: int
    view_count: int
    is_live: bool
    viewer_count: int
    current_stream: Stream | None
    prepared_stream: Stream | None  # created OFFLINE, what the next go-live starts
    moderator_ids: list[str]
    created_at: str
    updated_at: str


class ChannelChange(ChannelPage, kw_only=True):
    """The channel after the owner's change, and the position to pass as `?after=`."""

    position: int


class OwnChannelList(msgspec.Struct, rename="camel", kw_only=True):
    """Every channel the caller owns, public or not, oldest first."""

    items: list[ChannelPage]


class ModeratorChange(msgspec.Struct, rename="camel", kw_only=True):
    """A moderator granted or revoked (`position` 0: nothing changed)."""

    channel_id: str
    user_id: str
    moderator: bool
    position: int


class ChannelImage(UploadedImage, kw_only=True):
    """The stored image (re-encoded) now the channel's avatar or banner (`position` 0: it
    already was)."""

    channel_id: str
