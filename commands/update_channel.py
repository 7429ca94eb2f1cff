"""UpdateChannel: the owner changes the channel's name, description, category, tags."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.create_channel import clean_category, clean_description, clean_name
from commands.ports import Store
from domain.channel import Channel, clean_tags


class UpdateChannel(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    name: str | None = None
    description: str | None = None
    category: str | None = None
    tags: list[str] | None = None
    is_public: bool | None = None


class ChannelUpdated(msgspec.Struct, frozen=True, kw_only=True):
    channel: Channel
    position: int


def update_channel(cmd: UpdateChannel, store: Store) -> ChannelUpdated:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    channel.update(
        name=None if cmd.name is None else clean_name(cmd.name),
        description=None if cmd.description is None else clean_description(cmd.description),
        category=None if cmd.category is None else clean_category(cmd.category),
        tags=None if cmd.tags is None else clean_tags(cmd.tags),
        is_public=cmd.is_public,
    )
    return ChannelUpdated(channel=channel, position=store.save(channel))
