"""SetChannelImage: an image our storage has checked and stored becomes the channel's
avatar or banner (owner only; the URL comes from storage, not from the client)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel


class SetChannelImage(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    kind: Literal["avatar", "banner"]
    url: str


class ChannelImageSet(msgspec.Struct, frozen=True, kw_only=True):
    channel: Channel
    position: int  # 0: it already was this image


def set_channel_image(cmd: SetChannelImage, store: Store) -> ChannelImageSet:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    changed = channel.set_image(cmd.kind, cmd.url)
    return ChannelImageSet(channel=channel, position=store.save(channel) if changed else 0)
