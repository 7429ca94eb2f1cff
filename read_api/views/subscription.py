"""Subscriptions to channels (no payments yet)."""

from __future__ import annotations

import msgspec


class SubscriptionChange(msgspec.Struct, rename="camel", kw_only=True):
    """A subscription after subscribing, changing tier or cancelling."""

    id: str
    user_id: str
    channel_id: str
    tier: str
    status: str
    renewal_date: str
    position: int


class SubscriptionItem(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    user_id: str
    channel_id: str
    tier: str
    status: str
    start_date: str
    renewal_date: str | None
    updated_at: str


class SubscriptionList(msgspec.Struct, rename="camel", kw_only=True):
    items: list[SubscriptionItem]
