"""Chat moderation: bans and timeouts per channel, the moderation log, channel
filters. Commands decide; this module only translates HTTP and tells live rooms."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from msgspec import Meta

from commands.ban_user import BanUser, RemoveMessages, ban_user, remove_messages
from commands.set_channel_filters import SetChannelFilters, set_channel_filters
from commands.unban_user import UnbanUser, unban_user
from domain.channel import Channel
from domain.chat_filters import ChatFilters
from infra.auth import Principal
from infra.bus import LiveUpdate
from read_api.consistency import NotCaughtUp
from read_api.deps import parse_id, provide_principal
from read_api.moderation_queries import moderation_log, recent_message_ids
from read_api.services import Services

auth = {"principal": Provide(provide_principal)}
# How far back a ban removes the user's messages.
REMOVE_RECENT = timedelta(minutes=10)


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


async def staff_channel(services: Services, channel_id: str, principal: Principal) -> Channel:
    """The channel, from the store (its moderators as of now), if the caller moderates it."""
    channel = await services.run(services.store.get, parse_id(channel_id, "channel"), Channel)
    channel.require_moderator(principal.user_id)
    return channel


async def _recent(services: Services, channel: Channel, user_id: UUID) -> list[UUID]:
    """The user's messages of the last minutes in the live stream, once chat history has
    caught up with the log (or as far as it has, if it is slow: the ban still goes ahead)."""
    if channel.current_stream_id is None:
        return []
    head = await services.run(services.store.head)
    with contextlib.suppress(NotCaughtUp):
        await services.positions.wait(("chat_history",), head,
                                      services.settings.read_wait_timeout_s)
    since = (datetime.now(UTC) - REMOVE_RECENT).isoformat()
    return await services.run(recent_message_ids, services.db, str(channel.current_stream_id),
                              str(user_id), since)


def _until_view(until: datetime | None) -> dict[str, Any]:
    return {"until": until.isoformat() if until else None,
            "untilEpoch": until.timestamp() if until else None}


async def announce_ban(services: Services, channel: Channel, user_id: UUID,
                       until: datetime | None, reason: str, by: UUID) -> dict[str, Any]:
    """`chat:banned` to the live stream's room on every node: the user's sessions stop
    sending, and clients may hide the user's messages."""
    # The room hears who and until when, not which moderator or why (the log keeps those).
    view = {"channelId": str(channel.id), "userId": str(user_id), "banned": True,
            **_until_view(until)}
    if channel.current_stream_id is not None:
        await services.bus.publish_live([LiveUpdate(str(channel.current_stream_id),
                                                    "chat:banned", view)])
    return {**view, "reason": reason, "by": str(by)}


class ModerationController(Controller):
    """Bans and timeouts, the moderation log and chat filters."""

    path = "/api"
    tags = ["moderation"]

    @post("/users/{user_id:str}/block", status_code=200, dependencies=auth)
    async def ban(
        self,
        user_id: FromPath[str],
        data: JSONBody[BanBody],
        principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Bans a user from a channel's chat, or times them out with `durationSeconds`
        (owner or moderators); their recent messages are removed."""
        uid = parse_id(user_id, "user")
        channel = await staff_channel(services, data.channel_id, principal)
        channel_id = channel.id
        ids = await _recent(services, channel, uid)
        result = await services.run(ban_user, BanUser(
            actor_id=principal.user_id, channel_id=channel_id, user_id=uid,
            duration_s=data.duration_seconds, reason=data.reason, message_ids=tuple(ids)),
            services.store)
        view = await announce_ban(services, result.channel, uid, result.until,
                                  data.reason.strip(), principal.user_id)
        removed = [m.id for m in result.removed]
        # Sends committed while the ban was decided: the ban's position is now in the log,
        # so once chat history reaches it, nothing more of theirs can come.
        late = [i for i in await _recent(services, channel, uid) if i not in set(removed)]
        if late:
            removed += [m.id for m in await services.run(remove_messages, RemoveMessages(
                actor_id=principal.user_id, channel_id=channel_id, user_id=uid,
                message_ids=tuple(late)), services.store)]
        return {**view, "removedMessageIds": [str(i) for i in removed],
                "position": result.position}

    @delete("/users/{user_id:str}/block", status_code=200, dependencies=auth)
    async def unban(
        self,
        user_id: FromPath[str],
        channel_id: Annotated[str, QueryParameter(name="channelId", min_length=1)],
        principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Lifts a ban or a running timeout (owner or moderators); harmless when none."""
        uid = parse_id(user_id, "user")
        cid = parse_id(channel_id, "channel")
        result = await services.run(unban_user, UnbanUser(
            actor_id=principal.user_id, channel_id=cid, user_id=uid), services.store)
        view = {"channelId": str(cid), "userId": str(uid), "banned": False}
        stream_id = result.channel.current_stream_id
        if result.lifted and stream_id is not None:
            await services.bus.publish_live([LiveUpdate(str(stream_id), "chat:unbanned", view)])
        return {**view, "position": result.position}

    @get("/channels/{channel_id:str}/bans", dependencies=auth)
    async def bans(
        self,
        channel_id: FromPath[str],
        principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Who is banned or timed out now (owner and moderators only)."""
        channel = await staff_channel(services, channel_id, principal)
        now = datetime.now(UTC)
        items = [{"userId": str(uid), "banned": True, **_until_view(until)}
                 for uid, until in channel.bans.items() if channel.banned_until(uid, now)[0]]
        return {"channelId": str(channel.id), "items": items}

    @get("/channels/{channel_id:str}/moderation-log", dependencies=auth)
    async def log(
        self,
        channel_id: FromPath[str],
        principal: NamedDependency[Principal],
        services: NamedDependency[Services],
        before: Annotated[int | None, QueryParameter(ge=1, description="nextCursor")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        after: FromQuery[int | None] = None,
    ) -> dict[str, Any]:
        """The channel's moderation actions, newest first (owner and moderators only)."""
        channel = await staff_channel(services, channel_id, principal)
        await services.positions.wait(("moderation_log",), after,
                                      services.settings.read_wait_timeout_s)
        items, cursor = await services.run(moderation_log, services.db, str(channel.id),
                                           before=before, limit=limit)
        return {"items": items, "nextCursor": cursor}

    @get("/channels/{channel_id:str}/filters", dependencies=auth)
    async def filters(
        self,
        channel_id: FromPath[str],
        principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """The channel's chat filters (owner and moderators only)."""
        channel = await staff_channel(services, channel_id, principal)
        return {"channelId": str(channel.id), **filters_view(channel.filters)}

    @put("/channels/{channel_id:str}/filters", dependencies=auth)
    async def set_filters(
        self,
        channel_id: FromPath[str],
        data: JSONBody[FiltersBody],
        principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Replaces the channel's chat filters (owner and moderators)."""
        cid = parse_id(channel_id, "channel")
        result = await services.run(set_channel_filters, SetChannelFilters(
            actor_id=principal.user_id, channel_id=cid, filters=ChatFilters(
                blocked_terms=tuple(data.blocked_terms),
                default_profanity=data.default_profanity, block_links=data.block_links,
                slow_mode_s=data.slow_mode_seconds, followers_only=data.followers_only,
                follow_min_age_s=data.follow_min_age_seconds)), services.store)
        return {"channelId": str(cid), **filters_view(result.filters),
                "position": result.position}
