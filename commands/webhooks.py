"""The owner's webhook subscriptions: create, change, rotate the secret, delete; and the
sender's `DisableWebhook` when a receiver is gone. The secret is generated here, shown
once (in the result) and stored sealed."""

from __future__ import annotations

from uuid import UUID, uuid4

import msgspec

from commands.ports import SecretBox, Store
from domain.channel import Channel
from domain.integrations import (
    MAX_WEBHOOKS,
    Webhook,
    clean_description,
    clean_event_types,
    clean_url,
    new_webhook_secret,
)


class WebhookRules(msgspec.Struct, frozen=True, kw_only=True):
    """What settings decide: subscriptions per channel, and whether plain-http URLs may be
    saved (only where private targets are allowed: development and tests)."""

    limit: int = MAX_WEBHOOKS
    allow_insecure: bool = False


class CreateWebhook(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    url: str
    event_types: list[str]
    description: str = ""


class ChangeWebhook(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    webhook_id: UUID
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    enabled: bool | None = None


class RotateWebhookSecret(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    webhook_id: UUID


class DeleteWebhook(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    webhook_id: UUID


class DisableWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """From the sender, not a person: the receiver answered 410 or kept failing."""

    channel_id: UUID
    webhook_id: UUID
    reason: str


class PingWebhook(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    webhook_id: UUID


class RedeliverWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """`delivery_id` and `position` as the delivery log has them (the route looks them up)."""

    actor_id: UUID
    channel_id: UUID
    webhook_id: UUID
    delivery_id: str
    position: int


class DeliveryRequested(msgspec.Struct, frozen=True, kw_only=True):
    delivery_id: str
    position: int


class WebhookSaved(msgspec.Struct, frozen=True, kw_only=True):
    channel: Channel
    webhook: Webhook
    position: int
    secret: str | None = None  # only when just made: shown once


def create_webhook(cmd: CreateWebhook, store: Store, box: SecretBox,
                   rules: WebhookRules) -> WebhookSaved:
    url = clean_url(cmd.url, allow_insecure=rules.allow_insecure)
    types = clean_event_types(cmd.event_types)
    description = clean_description(cmd.description)
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    secret = new_webhook_secret()
    webhook_id = uuid4()
    channel.add_webhook(webhook_id, url=url, event_types=types, description=description,
                        sealed_secret=box.seal(secret), limit=rules.limit)
    position = store.save(channel)
    return WebhookSaved(channel=channel, webhook=channel.webhooks[webhook_id],
                        position=position, secret=secret)


def change_webhook(cmd: ChangeWebhook, store: Store, rules: WebhookRules) -> WebhookSaved:
    url = clean_url(cmd.url, allow_insecure=rules.allow_insecure) if cmd.url is not None \
        else None
    types = clean_event_types(cmd.event_types) if cmd.event_types is not None else None
    description = clean_description(cmd.description) if cmd.description is not None else None
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    changed = channel.change_webhook(cmd.webhook_id, url=url, event_types=types,
                                     description=description, enabled=cmd.enabled)
    position = store.save(channel) if changed else 0
    return WebhookSaved(channel=channel, webhook=channel.webhooks[cmd.webhook_id],
                        position=position)


def rotate_webhook_secret(cmd: RotateWebhookSecret, store: Store,
                          box: SecretBox) -> WebhookSaved:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    secret = new_webhook_secret()
    channel.rotate_webhook_secret(cmd.webhook_id, box.seal(secret))
    position = store.save(channel)
    return WebhookSaved(channel=channel, webhook=channel.webhooks[cmd.webhook_id],
                        position=position, secret=secret)


def delete_webhook(cmd: DeleteWebhook, store: Store) -> int:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    channel.delete_webhook(cmd.webhook_id)
    return store.save(channel)


def disable_webhook(cmd: DisableWebhook, store: Store) -> int:
    """The position of the event, 0 when it was already disabled or deleted."""
    channel = store.get(cmd.channel_id, Channel)
    return store.save(channel) if channel.disable_webhook(cmd.webhook_id, cmd.reason) else 0


def ping_webhook(cmd: PingWebhook, store: Store) -> DeliveryRequested:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    delivery_id = f"msg_{uuid4().hex}"
    channel.request_ping(cmd.webhook_id, delivery_id)
    return DeliveryRequested(delivery_id=delivery_id, position=store.save(channel))


def redeliver_webhook(cmd: RedeliverWebhook, store: Store) -> DeliveryRequested:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    channel.request_redelivery(cmd.webhook_id, cmd.delivery_id, cmd.position)
    return DeliveryRequested(delivery_id=cmd.delivery_id, position=store.save(channel))
