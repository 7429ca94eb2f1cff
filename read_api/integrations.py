"""The channel owner's integrations: webhook subscriptions (and their delivery log) and bot
tokens. Owner only; bot tokens may not call these. Commands decide; the delivery log is a
read model (projections/webhook_deliveries.py)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import Meta

from commands.bot_tokens import IssueBotToken, RevokeBotToken
from commands.bus import CommandBus
from commands.webhooks import (
    ChangeWebhook,
    CreateWebhook,
    DeleteWebhook,
    PingWebhook,
    RedeliverWebhook,
    RotateWebhookSecret,
)
from domain.channel import Channel
from domain.errors import NotFound
from domain.integrations import BotToken, Webhook
from infra.identity.auth import Principal
from projections.webhook_deliveries import deliveries, delivery
from read_api.deps import parse_id, provide_principal
from read_api.openapi import BEARER, problems
from read_api.paging import Cursor, Limit
from read_api.reads import Aggregates, ReadModels
from read_api.views.integrations import (
    BotTokenList,
    BotTokenRevoked,
    DeliveryPage,
    DeliveryRequest,
    IssuedBotToken,
    WebhookChange,
    WebhookDeleted,
    WebhookList,
    WebhookWithSecret,
)
from read_api.views.integrations import Webhook as WebhookView

auth = {"principal": Provide(provide_principal)}
Url = Annotated[str, Meta(max_length=4096)]
EventTypes = Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=20)]


class WebhookBody(msgspec.Struct, rename="camel"):
    """A subscription: an https URL and the event types to send there."""

    url: Url
    event_types: EventTypes
    description: Annotated[str, Meta(max_length=1000)] = ""


class WebhookPatch(msgspec.Struct, rename="camel"):
    """What to change (left out: unchanged); `enabled: true` turns a disabled one back on,
    from now on."""

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Annotated[str, Meta(max_length=1000)] | None = None
    enabled: bool | None = None


class TokenBody(msgspec.Struct, rename="camel"):
    name: Annotated[str, Meta(max_length=200)]
    scopes: Annotated[list[Annotated[str, Meta(max_length=32)]], Meta(max_length=10)]


def webhook_view(channel_id: UUID, hook: Webhook) -> dict[str, Any]:
    return {"id": str(hook.id), "channelId": str(channel_id), "url": hook.url,
            "eventTypes": list(hook.event_types), "description": hook.description,
            "enabled": hook.enabled, "disabledReason": hook.disabled_reason}


def token_view(channel_id: UUID, bot: BotToken) -> dict[str, Any]:
    return {"id": str(bot.id), "channelId": str(channel_id), "name": bot.name,
            "scopes": list(bot.scopes), "revoked": bot.revoked}


async def owned(aggregates: Aggregates, channel_id: str, principal: Principal) -> Channel:
    channel = await aggregates.get(parse_id(channel_id, "channel"), Channel)
    channel.require_owner(principal.user_id)
    return channel


class WebhookController(Controller):
    """Outbound webhooks of a channel (docs/webhooks.md)."""

    path = "/api/channels/{channel_id:str}/webhooks"
    tags = ["integrations"]
    dependencies = auth

    @post("/", status_code=201, operation_id="createWebhook", security=BEARER,
          responses=problems(403, 404, 415, 422, auth=True))
    async def create(self, channel_id: FromPath[str], data: JSONBody[WebhookBody],
                     principal: NamedDependency[Principal],
                     commands: NamedDependency[CommandBus]) -> WebhookWithSecret:
        """Subscribes a URL to event types (owner only, at most 20 per channel). The
        signing secret (`whsec_...`) is in this answer only."""
        result = await commands.execute(CreateWebhook(
            actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
            url=data.url, event_types=data.event_types, description=data.description))
        return {**webhook_view(result.channel.id, result.webhook), "secret": result.secret,
                "position": result.position}

    @get("/", operation_id="listWebhooks", security=BEARER,
         responses=problems(403, 404, 422, auth=True))
    async def list(self, channel_id: FromPath[str], principal: NamedDependency[Principal],
                   aggregates: NamedDependency[Aggregates],
                   after: FromQuery[int | None] = None) -> WebhookList:
        """The channel's subscriptions (owner only); secrets are never shown again."""
        await aggregates.current(after)
        channel = await owned(aggregates, channel_id, principal)
        return {"items": [webhook_view(channel.id, h) for h in channel.webhooks.values()]}

    @get("/{webhook_id:str}", operation_id="getWebhook", security=BEARER,
         responses=problems(403, 404, 422, auth=True))
    async def read(self, channel_id: FromPath[str], webhook_id: FromPath[str],
                   principal: NamedDependency[Principal],
                   aggregates: NamedDependency[Aggregates],
                   after: FromQuery[int | None] = None) -> WebhookView:
        """One subscription, with why it was disabled if it was (owner only)."""
        await aggregates.current(after)
        channel = await owned(aggregates, channel_id, principal)
        return webhook_view(channel.id, channel.webhook(parse_id(webhook_id, "webhook")))

    @patch("/{webhook_id:str}", operation_id="changeWebhook", security=BEARER,
           responses=problems(403, 404, 415, 422, auth=True))
    async def change(self, channel_id: FromPath[str], webhook_id: FromPath[str],
                     data: JSONBody[WebhookPatch], principal: NamedDependency[Principal],
                     commands: NamedDependency[CommandBus]) -> WebhookChange:
        """Changes the URL, event types, description, or turns it on or off (owner only);
        `position` 0: nothing changed."""
        result = await commands.execute(ChangeWebhook(
            actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
            webhook_id=parse_id(webhook_id, "webhook"), url=data.url,
            event_types=data.event_types, description=data.description,
            enabled=data.enabled))
        return {**webhook_view(result.channel.id, result.webhook), "position": result.position}

    @post("/{webhook_id:str}/rotate-secret", status_code=200, operation_id="rotateWebhookSecret",
          security=BEARER, responses=problems(403, 404, auth=True))
    async def rotate(self, channel_id: FromPath[str], webhook_id: FromPath[str],
                     principal: NamedDependency[Principal],
                     commands: NamedDependency[CommandBus]) -> WebhookWithSecret:
        """A new signing secret, shown this once; deliveries are signed with it from now."""
        result = await commands.execute(RotateWebhookSecret(
            actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
            webhook_id=parse_id(webhook_id, "webhook")))
        return {**webhook_view(result.channel.id, result.webhook), "secret": result.secret,
                "position": result.position}

    @delete("/{webhook_id:str}", status_code=200, operation_id="deleteWebhook",
            security=BEARER, responses=problems(403, 404, auth=True))
    async def remove(self, channel_id: FromPath[str], webhook_id: FromPath[str],
                     principal: NamedDependency[Principal],
                     commands: NamedDependency[CommandBus]) -> WebhookDeleted:
        """Deletes the subscription and its delivery log (owner only)."""
        position = await commands.execute(DeleteWebhook(
            actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
            webhook_id=parse_id(webhook_id, "webhook")))
        return {"id": webhook_id, "deleted": True, "position": position}

    @post("/{webhook_id:str}/test", status_code=202, operation_id="pingWebhook",
          security=BEARER, responses=problems(403, 404, auth=True))
    async def ping(self, channel_id: FromPath[str], webhook_id: FromPath[str],
                   principal: NamedDependency[Principal],
                   commands: NamedDependency[CommandBus]) -> DeliveryRequest:
        """Sends a signed `webhook.ping` to the URL; its outcome shows in the deliveries."""
        result = await commands.execute(PingWebhook(
            actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
            webhook_id=parse_id(webhook_id, "webhook")))
        return {"deliveryId": result.delivery_id, "position": result.position}

    @get("/{webhook_id:str}/deliveries", operation_id="listWebhookDeliveries",
         security=BEARER, responses=problems(403, 404, 422, 503, auth=True))
    async def deliveries(self, channel_id: FromPath[str], webhook_id: FromPath[str],
                         principal: NamedDependency[Principal],
                         aggregates: NamedDependency[Aggregates],
                         reads: NamedDependency[ReadModels], cursor: Cursor = None,
                         limit: Limit = 50,
                         after: FromQuery[int | None] = None) -> DeliveryPage:
        """Deliveries, newest first: the event, attempts, last status and latency, the
        next retry (owner only); pass `nextCursor` back as `cursor`."""
        channel = await owned(aggregates, channel_id, principal)
        hook = channel.webhook(parse_id(webhook_id, "webhook"))
        await reads.caught_up(("webhook_deliveries",), after)
        items, next_cursor = await reads.query(deliveries, str(hook.id), before=cursor,
                                               limit=limit)
        return {"items": items, "nextCursor": next_cursor}

    @post("/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver", status_code=202,
          operation_id="redeliverWebhook", security=BEARER,
          responses=problems(403, 404, 409, auth=True))
    async def redeliver(self, channel_id: FromPath[str], webhook_id: FromPath[str],
                        delivery_id: FromPath[str], principal: NamedDependency[Principal],
                        reads: NamedDependency[ReadModels],
                        commands: NamedDependency[CommandBus]) -> DeliveryRequest:
        """Sends that event's delivery once more, with the same `webhook-id` (owner only)."""
        wid = parse_id(webhook_id, "webhook")
        row = await reads.query(delivery, str(wid), delivery_id)
        if row is None or not row["position"]:
            raise NotFound(f"delivery {delivery_id!r} not found")
        result = await commands.execute(RedeliverWebhook(
            actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
            webhook_id=wid, delivery_id=delivery_id, position=int(row["position"])))
        return {"deliveryId": result.delivery_id, "position": result.position}


class BotTokenController(Controller):
    """A channel's bot tokens (owner only)."""

    path = "/api/channels/{channel_id:str}/tokens"
    tags = ["integrations"]
    dependencies = auth

    @post("/", status_code=201, operation_id="issueBotToken", security=BEARER,
          responses=problems(403, 404, 415, 422, auth=True))
    async def issue(self, channel_id: FromPath[str], data: JSONBody[TokenBody],
                    principal: NamedDependency[Principal],
                    commands: NamedDependency[CommandBus]) -> IssuedBotToken:
        """A token for a bot, limited to this channel and to `scopes` (`chat:read`,
        `chat:write`, `chat:moderate`, `stream:read`, `stream:manage`); `token` is in this
        answer only."""
        cid = parse_id(channel_id, "channel")
        result = await commands.execute(IssueBotToken(
            actor_id=principal.user_id, channel_id=cid, name=data.name, scopes=data.scopes))
        return {**token_view(cid, result.bot), "token": result.token,
                "position": result.position}

    @get("/", operation_id="listBotTokens", security=BEARER,
         responses=problems(403, 404, 422, auth=True))
    async def list(self, channel_id: FromPath[str], principal: NamedDependency[Principal],
                   aggregates: NamedDependency[Aggregates],
                   after: FromQuery[int | None] = None) -> BotTokenList:
        """The channel's tokens, revoked ones included (never the tokens themselves)."""
        await aggregates.current(after)
        channel = await owned(aggregates, channel_id, principal)
        return {"items": [token_view(channel.id, b) for b in channel.bots.values()]}

    @delete("/{token_id:str}", status_code=200, operation_id="revokeBotToken",
            security=BEARER, responses=problems(403, 404, auth=True))
    async def revoke(self, channel_id: FromPath[str], token_id: FromPath[str],
                     principal: NamedDependency[Principal],
                     commands: NamedDependency[CommandBus]) -> BotTokenRevoked:
        """Revokes the token: refused from the next request on, on every node."""
        position = await commands.execute(RevokeBotToken(
            actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
            token_id=parse_id(token_id, "token")))
        return {"id": token_id, "revoked": True, "position": position}


INTEGRATION_ROUTES = [WebhookController, BotTokenController]
