"""Channels: create, read by slug, update, and moderators."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from commands.bus import CommandBus
from commands.create_channel import CreateChannel
from commands.grant_moderator import GrantModerator
from commands.revoke_moderator import RevokeModerator
from commands.update_channel import UpdateChannel
from domain.channel import Channel
from domain.errors import NotFound
from infra.identity.auth import Principal
from projections.channel_page import get_channel_by_slug
from read_api.deps import parse_id, provide_principal
from read_api.http_cache import LIVE
from read_api.reads import ReadModels
from read_api.schemas import CreateChannelBody, UpdateChannelBody

CHANNEL_READ_MODELS = ("channel_page", "stream_status", "users")


def channel_view(channel: Channel) -> dict[str, Any]:
    """The channel as its owner just changed it (no stream key: that has its own route)."""
    return {
        "id": str(channel.id),
        "slug": channel.slug,
        "name": channel.name,
        "description": channel.description,
        "category": channel.category,
        "tags": channel.tags,
        "isPublic": channel.is_public,
        "creatorId": str(channel.owner_id),
        "currentStreamId": str(channel.current_stream_id) if channel.current_stream_id else None,
        "moderatorIds": sorted(str(m) for m in channel.moderator_ids),
    }


auth = {"principal": Provide(provide_principal)}


class ChannelController(Controller):
    path = "/api/channels"
    tags = ["channels"]

    @post("/", status_code=201, dependencies=auth)
    async def create(
        self,
        data: JSONBody[CreateChannelBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> dict[str, Any]:
        """Creates a channel owned by the caller, with a unique slug."""
        result = await commands.execute(
            CreateChannel(
                owner_id=principal.user_id,
                slug=data.slug,
                name=data.name,
                description=data.description,
                category=data.category,
                tags=data.tags,
                is_public=data.is_public,
            )
        )
        return {**channel_view(result.channel), "position": result.position}

    @get("/{slug:str}", opt=LIVE)
    async def by_slug(
        self,
        slug: FromPath[str],
        reads: NamedDependency[ReadModels],
        after: FromQuery[int | None] = None,
    ) -> dict[str, Any]:
        """The channel page: live status, current stream, counts."""
        await reads.caught_up(CHANNEL_READ_MODELS, after)
        view = await reads.query(get_channel_by_slug, slug)
        if view is None:
            raise NotFound(f"channel {slug!r} not found")
        return view

    @put("/{channel_id:str}", dependencies=auth)
    async def update(
        self,
        channel_id: FromPath[str],
        data: JSONBody[UpdateChannelBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> dict[str, Any]:
        """Changes the channel's details (owner only)."""
        result = await commands.execute(
            UpdateChannel(
                actor_id=principal.user_id,
                channel_id=parse_id(channel_id, "channel"),
                name=data.name,
                description=data.description,
                category=data.category,
                tags=data.tags,
                is_public=data.is_public,
            )
        )
        return {**channel_view(result.channel), "position": result.position}

    @put("/{channel_id:str}/moderators/{user_id:str}", dependencies=auth)
    async def grant(
        self,
        channel_id: FromPath[str],
        user_id: FromPath[str],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> dict[str, Any]:
        """Makes a user a moderator of the channel (owner only)."""
        return await _set_moderator(commands, principal, channel_id, user_id, True)

    @delete("/{channel_id:str}/moderators/{user_id:str}", status_code=200, dependencies=auth)
    async def revoke(
        self,
        channel_id: FromPath[str],
        user_id: FromPath[str],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> dict[str, Any]:
        """Takes a user's moderator rights away (owner only)."""
        return await _set_moderator(commands, principal, channel_id, user_id, False)


async def _set_moderator(commands: CommandBus, principal: Principal, channel_id: str,
                         user_id: str, moderator: bool) -> dict[str, Any]:
    command = GrantModerator if moderator else RevokeModerator
    position = await commands.execute(command(
        actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
        user_id=parse_id(user_id, "user")))
    return {"channelId": channel_id, "userId": user_id, "moderator": moderator,
            "position": position}
