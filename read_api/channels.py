"""Channels: create, read by slug, update, and moderators. Every answer is the channel in
the one shape its page has (`projections/channel_page.py` `channel_view`)."""

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
from domain.stream import Stream
from infra.identity.auth import Principal
from infra.settings import Settings
from projections.channel_page import channel_row, channel_view, get_channel_by_slug
from read_api.deps import parse_id, provide_principal
from read_api.http_cache import LIVE
from read_api.openapi import BEARER, problems
from read_api.reads import Aggregates, ReadModels
from read_api.schemas import CreateChannelBody, UpdateChannelBody
from read_api.streams import stream_state
from read_api.views.channel import ChannelChange, ChannelPage, ModeratorChange

CHANNEL_READ_MODELS = ("channel_page", "stream_status", "users")


async def channel_state(reads: ReadModels, aggregates: Aggregates, settings: Settings,
                        channel: Channel, principal: Principal, position: int
                        ) -> dict[str, Any]:
    """The channel as the owner's command left it, in the shape of its page: what the
    aggregate holds (details, images, live and prepared stream) over the read model's row
    (counts, the owner's names), which may not have the channel yet (then: no followers, no
    views)."""
    row = await reads.query(channel_row, str(channel.id))
    fields = {
        "id": str(channel.id), "slug": channel.slug, "name": channel.name,
        "description": channel.description, "category": channel.category,
        "tags": list(channel.tags), "is_public": channel.is_public,
        "owner_id": str(channel.owner_id), "avatar": channel.avatar, "banner": channel.banner,
        "is_live": channel.current_stream_id is not None,
        "current_stream_id": str(channel.current_stream_id)
        if channel.current_stream_id else None,
        "created_at": channel.created_on.isoformat(),
        "updated_at": channel.modified_on.isoformat(),
    }
    if row is None:
        row = {"follower_count": 0, "view_count": 0, "viewer_count": 0,
               "owner_username": principal.username,
               "owner_display_name": principal.display_name}
    view = await reads.query(channel_view, {**row, **fields},
                             stream_url=settings.ingest_rtmp_url)
    # Its streams as the aggregates have them where the read model has not caught up.
    for key, stream_id in (("currentStream", channel.current_stream_id),
                           ("preparedStream", channel.prepared_stream_id)):
        if stream_id is None:
            view[key] = None
        elif (view[key] or {}).get("id") != str(stream_id):
            stream = await aggregates.get(stream_id, Stream)
            view[key] = {k: v for k, v in (await stream_state(reads, stream, 0)).items()
                         if k != "position"}
    return {**view, "position": position}


auth = {"principal": Provide(provide_principal)}


class ChannelController(Controller):
    path = "/api/channels"
    tags = ["channels"]

    @post("/", status_code=201, dependencies=auth, operation_id="createChannel",
          security=BEARER, responses=problems(403, 404, 409, 415, 422, auth=True))
    async def create(
        self,
        data: JSONBody[CreateChannelBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
        reads: NamedDependency[ReadModels],
        aggregates: NamedDependency[Aggregates],
        settings: NamedDependency[Settings],
    ) -> ChannelChange:
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
        return await channel_state(reads, aggregates, settings, result.channel, principal,
                                   result.position)

    @get("/{slug:str}", opt=LIVE, operation_id="getChannelBySlug",
         responses=problems(404, 422, 503))
    async def by_slug(
        self,
        slug: FromPath[str],
        reads: NamedDependency[ReadModels],
        settings: NamedDependency[Settings],
        after: FromQuery[int | None] = None,
    ) -> ChannelPage:
        """The channel page: live status, current and prepared stream, counts, and
        `streamUrl`, where its encoder publishes."""
        await reads.caught_up(CHANNEL_READ_MODELS, after)
        view = await reads.query(get_channel_by_slug, slug, stream_url=settings.ingest_rtmp_url)
        if view is None:
            raise NotFound(f"channel {slug!r} not found")
        return view

    @put("/{channel_id:str}", dependencies=auth, operation_id="updateChannel",
         security=BEARER, responses=problems(403, 404, 415, 422, auth=True))
    async def update(
        self,
        channel_id: FromPath[str],
        data: JSONBody[UpdateChannelBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
        reads: NamedDependency[ReadModels],
        aggregates: NamedDependency[Aggregates],
        settings: NamedDependency[Settings],
    ) -> ChannelChange:
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
        return await channel_state(reads, aggregates, settings, result.channel, principal,
                                   result.position)

    @put("/{channel_id:str}/moderators/{user_id:str}", dependencies=auth,
         operation_id="grantModerator", security=BEARER,
         responses=problems(403, 404, 422, auth=True))
    async def grant(
        self,
        channel_id: FromPath[str],
        user_id: FromPath[str],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> ModeratorChange:
        """Makes a user a moderator of the channel (owner only)."""
        return await _set_moderator(commands, principal, channel_id, user_id, True)

    @delete("/{channel_id:str}/moderators/{user_id:str}", status_code=200, dependencies=auth,
            operation_id="revokeModerator", security=BEARER,
            responses=problems(403, 404, auth=True))
    async def revoke(
        self,
        channel_id: FromPath[str],
        user_id: FromPath[str],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> ModeratorChange:
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
