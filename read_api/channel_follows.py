"""Following channels and subscribing to them: follow and unfollow (idempotent),
the channel's followers in cursor pages, and the subscription framework (no payments)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import Meta

from commands.bus import CommandBus
from commands.cancel_subscription import CancelSubscription
from commands.subscribe import Subscribe
from domain.subscription import Subscription
from infra.identity.auth import Principal
from projections.follows import followed_at
from projections.subscriptions import list_subscriptions
from read_api.deps import parse_id, provide_principal
from read_api.following import followers_page, set_following
from read_api.openapi import BEARER, problems
from read_api.paging import Cursor, Limit
from read_api.reads import ReadModels
from read_api.views.follow import ChannelFollowChange, ChannelFollowState, FollowerPage
from read_api.views.subscription import SubscriptionChange, SubscriptionList

auth = {"principal": Provide(provide_principal)}


class SubscribeBody(msgspec.Struct, rename="camel"):
    """The tier to subscribe at."""

    tier: Annotated[str, Meta(max_length=20)] = "BASIC"


def subscription_state(sub: Subscription) -> dict[str, Any]:
    return {"id": str(sub.id), "userId": str(sub.user_id), "channelId": str(sub.channel_id),
            "tier": sub.tier, "status": sub.status,
            "renewalDate": sub.renewal_date.isoformat()}


class ChannelFollowController(Controller):
    """Following a channel and subscribing to it."""

    path = "/api/channels"
    tags = ["channels"]

    @post("/{channel_id:str}/follow", status_code=200, dependencies=auth,
          operation_id="followChannel", security=BEARER,
          responses=problems(403, 404, 422, auth=True))
    async def follow_channel(
        self, channel_id: FromPath[str], principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> ChannelFollowChange:
        """Follows a channel (again: no change)."""
        return await set_following(commands, principal, "channel", channel_id, True)

    @delete("/{channel_id:str}/follow", status_code=200, dependencies=auth,
            operation_id="unfollowChannel", security=BEARER,
            responses=problems(403, 404, 422, auth=True))
    async def unfollow_channel(
        self, channel_id: FromPath[str], principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> ChannelFollowChange:
        """Stops following a channel (not following: no change)."""
        return await set_following(commands, principal, "channel", channel_id, False)

    @get("/{channel_id:str}/follow", dependencies=auth, operation_id="getChannelFollow",
         security=BEARER, responses=problems(403, 404, 422, 503, auth=True))
    async def follow_state(
        self, channel_id: FromPath[str], principal: NamedDependency[Principal],
        reads: NamedDependency[ReadModels], after: FromQuery[int | None] = None,
    ) -> ChannelFollowState:
        """Whether the caller follows the channel (a follow button's state); `?after=`
        the position of a follow or unfollow just made to see it."""
        cid = parse_id(channel_id, "channel")
        await reads.caught_up(("follows",), after)
        since = await reads.query(followed_at, str(principal.user_id), "channel", str(cid))
        return {"channelId": str(cid), "following": since is not None, "followedAt": since}

    @get("/{channel_id:str}/followers", operation_id="listChannelFollowers",
         responses=problems(404, 422, 503))
    async def followers(
        self, channel_id: FromPath[str], reads: NamedDependency[ReadModels],
        cursor: Cursor = None, limit: Limit = 20, after: FromQuery[int | None] = None,
    ) -> FollowerPage:
        """Who follows this channel, most recent first; pass `nextCursor` back as `cursor`."""
        return await followers_page(reads, "channel", channel_id, ("follows", "users"),
                                    cursor=cursor, limit=limit, after=after)

    @post("/{channel_id:str}/subscription", status_code=200, dependencies=auth,
          operation_id="subscribeToChannel", security=BEARER,
          responses=problems(403, 404, 409, 415, 422, auth=True))
    async def subscribe(
        self, channel_id: FromPath[str], data: JSONBody[SubscribeBody],
        principal: NamedDependency[Principal], commands: NamedDependency[CommandBus],
    ) -> SubscriptionChange:
        """Subscribes the caller at a tier (BASIC, PREMIUM, VIP), or changes the tier."""
        result = await commands.execute(Subscribe(
            user_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
            tier=data.tier))
        return {**subscription_state(result.subscription), "position": result.position}

    @delete("/{channel_id:str}/subscription", status_code=200, dependencies=auth,
            operation_id="cancelSubscription", security=BEARER,
            responses=problems(403, 404, 409, auth=True))
    async def cancel(
        self, channel_id: FromPath[str], principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> SubscriptionChange:
        """Cancels the caller's subscription: it stays until its renewal date."""
        result = await commands.execute(CancelSubscription(
            user_id=principal.user_id, channel_id=parse_id(channel_id, "channel")))
        return {**subscription_state(result.subscription), "position": result.position}


class SubscriptionController(Controller):
    """The caller's own subscriptions."""

    path = "/api/subscriptions"
    tags = ["subscriptions"]

    @get("/", dependencies=auth, operation_id="listMySubscriptions", security=BEARER,
         responses=problems(403, 422, 503, auth=True))
    async def mine(
        self, principal: NamedDependency[Principal], reads: NamedDependency[ReadModels],
        after: FromQuery[int | None] = None,
    ) -> SubscriptionList:
        """The caller's subscriptions (read model)."""
        await reads.caught_up(("subscriptions",), after)
        items = await reads.query(list_subscriptions, str(principal.user_id))
        return {"items": items}
