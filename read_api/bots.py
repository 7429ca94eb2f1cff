"""What a bot token may do beyond chat: with `stream:manage`, start and end its channel's
streams on the owner's behalf (the stream's events name the owner, as if they had)."""

from __future__ import annotations

from uuid import UUID

import msgspec

from domain.channel import Channel
from domain.errors import Forbidden
from domain.stream import Stream
from infra.identity.auth import Principal
from read_api.reads import Aggregates


async def acting_owner(principal: Principal, aggregates: Aggregates, *,
                       channel_id: UUID | None = None,
                       stream_id: UUID | None = None) -> Principal:
    """The principal to act as: a person as they are; a bot as its channel's owner, if
    the channel (or the stream's channel) is its own and the token still holds
    `stream:manage`."""
    if not principal.is_bot:
        return principal
    if channel_id is None and stream_id is not None:
        channel_id = (await aggregates.get(stream_id, Stream)).channel_id
    if channel_id != principal.bot_channel:
        raise Forbidden("this bot token acts in its own channel only")
    channel = await aggregates.get(channel_id, Channel)
    channel.bot(principal.user_id, "stream:manage")
    return msgspec.structs.replace(principal, user_id=channel.owner_id, bot_channel=None,
                                   scopes=())
