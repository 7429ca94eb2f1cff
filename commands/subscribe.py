"""Subscribe: a user subscribes to a channel at a tier (no payment yet), or changes tier."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.errors import Invalid
from domain.subscription import Subscription, parse_tier
from domain.user import User


class Subscribe(msgspec.Struct, frozen=True, kw_only=True):
    """The command: who subscribes to which channel, at which tier."""

    user_id: UUID
    channel_id: UUID
    tier: str = "BASIC"


class Subscribed(msgspec.Struct, frozen=True, kw_only=True):
    """The subscription as it now stands, and the position of its last event."""

    subscription: Subscription
    position: int


def subscribe(cmd: Subscribe, store: Store, now: datetime | None = None) -> Subscribed:
    now = now or datetime.now(UTC)
    tier = parse_tier(cmd.tier)
    store.get(cmd.user_id, User, what="user").require_active()
    channel = store.get(cmd.channel_id, Channel, what="channel")
    if channel.owner_id == cmd.user_id:
        raise Invalid("you cannot subscribe to your own channel", field="channelId")
    sub = store.find(Subscription.create_id(cmd.user_id, cmd.channel_id), Subscription)
    if sub is None:
        sub = Subscription.start(cmd.user_id, cmd.channel_id, tier, now)
    else:
        sub.subscribe(tier, now)
    return Subscribed(subscription=sub, position=store.save(sub))
