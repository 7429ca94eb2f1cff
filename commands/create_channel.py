"""CreateChannel: a creator's channel with a unique slug and a fresh stream key."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel, clean_tags, new_stream_key, normalise_slug
from domain.errors import Conflict, Invalid, TooLong
from domain.stream_key import StreamKeyClaim
from domain.unique_name import UniqueName
from domain.user import User


class CreateChannel(msgspec.Struct, frozen=True, kw_only=True):
    owner_id: UUID
    slug: str
    name: str
    description: str = ""
    category: str = "just-chatting"
    tags: list[str] = []
    is_public: bool = True


class ChannelCreated(msgspec.Struct, frozen=True, kw_only=True):
    channel: Channel
    position: int


def clean_name(name: str) -> str:
    value = name.strip()
    if not 1 <= len(value) <= 80:
        raise Invalid("name must be 1-80 characters", field="name")
    return value


def clean_description(description: str) -> str:
    value = description.strip()
    if len(value) > 2000:
        raise TooLong("description must be at most 2000 characters", field="description")
    return value


def clean_category(category: str) -> str:
    value = category.strip().lower()
    if not 1 <= len(value) <= 40:
        raise Invalid("category must be 1-40 characters", field="category")
    return value


def create_channel(cmd: CreateChannel, store: Store) -> ChannelCreated:
    store.get(cmd.owner_id, User, what="user")
    slug = normalise_slug(cmd.slug)
    if store.find(UniqueName.create_id("slug", slug), UniqueName):
        raise Conflict(f"the slug {slug!r} is taken", field="slug")
    channel = Channel(
        owner_id=cmd.owner_id,
        slug=slug,
        name=clean_name(cmd.name),
        description=clean_description(cmd.description),
        category=clean_category(cmd.category),
        tags=clean_tags(cmd.tags),
        is_public=cmd.is_public,
        stream_key=new_stream_key(),
    )
    try:
        position = store.save(channel, UniqueName.claim("slug", slug, channel.id),
                              StreamKeyClaim.claim(channel.stream_key, channel.id))
    except Conflict:
        raise Conflict(f"the slug {slug!r} was just taken", field="slug") from None
    return ChannelCreated(channel=channel, position=position)
