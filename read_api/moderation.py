"""Chat moderation: bans and timeouts per channel, the moderation log, channel filters.
Commands decide; this module only translates HTTP (rooms hear of bans from their events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from msgspec import Meta

from commands.ban_user import BanUser
from commands.bus import CommandBus
from commands.set_channel_filters import SetChannelFilters
from commands.unban_user import UnbanUser
from domain.channel import Channel
from domain.chat_filters import ChatFilters
from infra.identity.auth import Principal
from projections.moderation_log import moderation_log
from read_api.deps import bot_scope, parse_id, provide_principal
from read_api.openapi import BEARER, problems
from read_api.paging import Before, Cursor, Limit, page_cursor
from read_api.reads import Aggregates, ReadModels
from read_api.realtime.presenters import ban_view
from read_api.views.moderation import (
    Ban,
    BanList,
    ChatFilterChange,
    ChatFilterSettings,
    ModerationLogPage,
    Unban,
)

auth = {"principal": Provide(provide_principal)}


class BanBody(msgspec.Struct, rename="camel"):
    """A ban (no duration) or a timeout (durationSeconds) in one channel's chat."""

    channel_id: Annotated[str, Meta(min_length=1, max_length=64)]
    duration_seconds: int | None = None
    reason: Annotated[str, Meta(max_length=500)] = ""


class FiltersBody(msgspec.Struct, rename="camel"):
    """The whole filter settings: what is left out takes its default."""

    blocked_terms: Annotated[list[Annotated[str, Meta(max_length=50)]],
                             Meta(max_length=200)] = []
    default_profanity: bool = True
    block_links: bool = False
    slow_mode_seconds: Annotated[int, Meta(ge=0, le=3600)] = 0
    followers_only: bool = False
    follow_min_age_seconds: Annotated[int, Meta(ge=0, le=90 * 86400)] = 0


def filters_view(filters: ChatFilters) -> dict[str, Any]:
    return {"blockedTerms": list(filters.blocked_terms),
            "defaultProfanity": filters.default_profanity, "blockLinks": filters.block_links,
            "slowModeSeconds": filters.slow_mode_s, "followersOnly": filters.followers_only,
            "followMinAgeSeconds": filters.follow_min_age_s}


async def staff_channel(aggregates: Aggregates, channel_id: str,
                        principal: Principal) -> Channel:
    """The channel, from the store (its moderators as of now), if the caller moderates it."""
    channel = await aggregates.get(parse_id(channel_id, "channel"), Channel)
    channel.require_moderator(principal.user_id)
    return channel


def _until_view(until: datetime | None) -> dict[str, Any]:
    return {"until": until.isoformat() if until else None,
            "untilEpoch": until.timestamp() if until else None}


class ModerationController(Controller):
    """Bans and timeouts, the moderation log and chat filters."""

    path = "/api"
    tags = ["moderation"]

    @post("/users/{user_id:str}/block", status_code=200, dependencies=auth,
          opt=bot_scope("chat:moderate"),
          operation_id="banUser", security=BEARER,
          responses=problems(403, 404, 409, 415, 422, auth=True))
    async def ban(
        self,
        user_id: FromPath[str],
        data: JSONBody[BanBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> Ban:
        """Bans a user from a channel's chat, or times them out with `durationSeconds`
        (owner or moderators); their messages of the last 10 minutes are removed."""
        uid = parse_id(user_id, "user")
        result = await commands.execute(BanUser(
            actor_id=principal.user_id, channel_id=parse_id(data.channel_id, "channel"),
            user_id=uid, duration_s=data.duration_seconds, reason=data.reason))
        return {**ban_view(str(result.channel.id), str(uid), result.until),
                "reason": data.reason.strip(), "by": str(principal.user_id),
                "removedMessageIds": [str(m.id) for m in result.removed],
                "position": result.position}

    @delete("/users/{user_id:str}/block", status_code=200, dependencies=auth,
          opt=bot_scope("chat:moderate"),
            operation_id="unbanUser", security=BEARER,
            responses=problems(403, 404, 422, auth=True))
    async def unban(
        self,
        user_id: FromPath[str],
        channel_id: Annotated[str, QueryParameter(name="channelId", min_length=1)],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> Unban:
        """Lifts a ban or a running timeout (owner or moderators); harmless when none."""
        uid = parse_id(user_id, "user")
        cid = parse_id(channel_id, "channel")
        result = await commands.execute(UnbanUser(
            actor_id=principal.user_id, channel_id=cid, user_id=uid))
        return {**ban_view(str(cid), str(uid), None, banned=False),
                "position": result.position}

    @get("/channels/{channel_id:str}/bans", dependencies=auth,
          opt=bot_scope("chat:moderate"), operation_id="listBans",
         security=BEARER, responses=problems(403, 404, 422, auth=True))
    async def bans(
        self,
        channel_id: FromPath[str],
        principal: NamedDependency[Principal],
        aggregates: NamedDependency[Aggregates],
        after: FromQuery[int | None] = None,
    ) -> BanList:
        """Who is banned or timed out now (owner and moderators only)."""
        await aggregates.current(after)
        channel = await staff_channel(aggregates, channel_id, principal)
        now = datetime.now(UTC)
        items = [{"userId": str(uid), "banned": True, **_until_view(until)}
                 for uid, until in channel.bans.items() if channel.banned_until(uid, now)[0]]
        return {"channelId": str(channel.id), "items": items}

    @get("/channels/{channel_id:str}/moderation-log", dependencies=auth,
          opt=bot_scope("chat:moderate"),
         operation_id="getModerationLog", security=BEARER,
         responses=problems(403, 404, 422, 503, auth=True))
    async def log(
        self,
        channel_id: FromPath[str],
        principal: NamedDependency[Principal],
        aggregates: NamedDependency[Aggregates],
        reads: NamedDependency[ReadModels],
        cursor: Cursor = None,
        before: Before = None,
        limit: Limit = 50,
        after: FromQuery[int | None] = None,
    ) -> ModerationLogPage:
        """The channel's moderation actions, newest first (owner and moderators only);
        pass `nextCursor` back as `cursor`."""
        page = page_cursor(cursor, before)
        channel = await staff_channel(aggregates, channel_id, principal)
        await reads.caught_up(("moderation_log",), after)
        items, next_cursor = await reads.query(moderation_log, str(channel.id), before=page,
                                               limit=limit)
        return {"items": items, "nextCursor": next_cursor}

    @get("/channels/{channel_id:str}/filters", dependencies=auth, operation_id="getChatFilters",
         security=BEARER, responses=problems(403, 404, 422, auth=True))
    async def filters(
        self,
        channel_id: FromPath[str],
        principal: NamedDependency[Principal],
        aggregates: NamedDependency[Aggregates],
        after: FromQuery[int | None] = None,
    ) -> ChatFilterSettings:
        """The channel's chat filters (owner and moderators only)."""
        await aggregates.current(after)
        channel = await staff_channel(aggregates, channel_id, principal)
        return {"channelId": str(channel.id), **filters_view(channel.filters)}

    @put("/channels/{channel_id:str}/filters", dependencies=auth, operation_id="setChatFilters",
         security=BEARER, responses=problems(403, 404, 415, 422, auth=True))
    async def set_filters(
        self,
        channel_id: FromPath[str],
        data: JSONBody[FiltersBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> ChatFilterChange:
        """Replaces the channel's chat filters (owner and moderators)."""
        cid = parse_id(channel_id, "channel")
        result = await commands.execute(SetChannelFilters(
            actor_id=principal.user_id, channel_id=cid, filters=ChatFilters(
                blocked_terms=tuple(data.blocked_terms),
                default_profanity=data.default_profanity, block_links=data.block_links,
                slow_mode_s=data.slow_mode_seconds, followers_only=data.followers_only,
                follow_min_age_s=data.follow_min_age_seconds)))
        return {"channelId": str(cid), **filters_view(result.filters),
                "position": result.position}
