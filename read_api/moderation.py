"""Chat moderation (issue 6): bans and timeouts per channel, the moderation log, channel
filters. Commands decide; this module only translates HTTP and tells live rooms."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, delete, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import Meta

from commands.ban_user import BanUser, ban_user
from commands.unban_user import UnbanUser, unban_user
from domain.channel import Channel
from infra.auth import Principal
from infra.bootstrap import Services
from infra.bus import LiveUpdate
from read_api.consistency import NotCaughtUp
from read_api.deps import parse_id, provide_principal
from read_api.moderation_queries import recent_message_ids

auth = {"principal": Provide(provide_principal)}
# How far back a ban removes the user's messages.
REMOVE_RECENT = timedelta(minutes=10)


class BanBody(msgspec.Struct, rename="camel"):
    """A ban (no duration) or a timeout (durationSeconds) in one channel's chat."""

    channel_id: Annotated[str, Meta(min_length=1, max_length=64)]
    duration_seconds: int | None = None
    reason: Annotated[str, Meta(max_length=500)] = ""


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
        channel_id = parse_id(data.channel_id, "channel")
        channel = await services.run(services.store.get, channel_id, Channel)
        channel.require_moderator(principal.user_id)
        ids = await _recent(services, channel, uid)
        result = await services.run(ban_user, BanUser(
            actor_id=principal.user_id, channel_id=channel_id, user_id=uid,
            duration_s=data.duration_seconds, reason=data.reason, message_ids=tuple(ids)),
            services.store)
        view = {"channelId": str(channel_id), "userId": str(uid), "banned": True,
                **_until_view(result.until), "reason": data.reason.strip(),
                "by": str(principal.user_id)}
        stream_id = result.channel.current_stream_id
        if stream_id is not None:  # every node's sessions of this user hear it
            await services.bus.publish_live([LiveUpdate(str(stream_id), "chat:banned", view)])
        return {**view, "removedMessageIds": [str(m.id) for m in result.removed],
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
