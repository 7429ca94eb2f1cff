"""SetChannelFilters: the channel owner or a moderator sets the chat filters."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.chat_filters import ChatFilters


class SetChannelFilters(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    filters: ChatFilters


class FiltersSet(msgspec.Struct, frozen=True, kw_only=True):
    filters: ChatFilters
    position: int  # 0 when nothing changed


def set_channel_filters(cmd: SetChannelFilters, store: Store) -> FiltersSet:
    channel = store.get(cmd.channel_id, Channel)
    changed = channel.set_filters(cmd.filters, by=cmd.actor_id)
    return FiltersSet(filters=channel.filters, position=store.save(channel) if changed else 0)
