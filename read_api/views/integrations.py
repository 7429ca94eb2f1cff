"""Webhook subscriptions, their delivery log, and bot tokens, as the owner sees them."""

from __future__ import annotations

import msgspec


class Webhook(msgspec.Struct, rename="camel", kw_only=True):
    """A subscription: where events go and which; `disabledReason` says why delivery
    stopped (a 410 from the receiver, or a whole retry schedule failed)."""

    id: str
    channel_id: str
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None


class WebhookList(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Webhook]


class WebhookWithSecret(Webhook, kw_only=True):
    """A subscription just made (or its secret just rotated): `secret` is shown this once."""

    secret: str
    position: int


class WebhookChange(Webhook, kw_only=True):
    position: int


class WebhookDeleted(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    deleted: bool
    position: int


class DeliveryRequest(msgspec.Struct, rename="camel", kw_only=True):
    """A delivery asked for (a ping, or a redelivery): it is sent shortly, and shows in the
    delivery log under `deliveryId` (the `webhook-id` header)."""

    delivery_id: str
    position: int


class Delivery(msgspec.Struct, rename="camel", kw_only=True):
    """One event's delivery to the subscription (`id` is its `webhook-id`): how many
    attempts, the last status (null: no answer) and latency, and the next retry."""

    id: str
    webhook_id: str
    event_type: str
    position: int
    attempts: int
    last_status: int | None
    last_latency_ms: int | None
    outcome: str
    next_retry_at: str | None
    note: str
    updated_at: str


class DeliveryPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[Delivery]
    next_cursor: int | None


class BotToken(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    channel_id: str
    name: str
    scopes: list[str]
    revoked: bool


class BotTokenList(msgspec.Struct, rename="camel", kw_only=True):
    items: list[BotToken]


class IssuedBotToken(BotToken, kw_only=True):
    """A token just issued: `token` is shown this once (only its hash is kept)."""

    token: str
    position: int


class BotTokenRevoked(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    revoked: bool
    position: int
