"""Subscriptions to a channel: tier, status and renewal date (the framework; no payments)."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import Conflict, Invalid

PERIOD = timedelta(days=30)


class Tier(enum.StrEnum):
    """What a subscriber pays for (the plan's SubscriptionTier)."""

    BASIC = "BASIC"
    PREMIUM = "PREMIUM"
    VIP = "VIP"


class SubStatus(enum.StrEnum):
    """Where a subscription stands (the plan's SubStatus)."""

    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


def parse_tier(value: str) -> Tier:
    try:
        return Tier(value.strip().upper())
    except ValueError:
        raise Invalid("tier must be BASIC, PREMIUM or VIP", field="tier") from None


class Subscription(Aggregate):
    """A user's subscription to a channel. ACTIVE until cancelled (it then runs to its
    renewal date) or expired; subscribing again restarts it."""

    class Started(Aggregate.Created):
        user_id: UUID
        channel_id: UUID
        tier: str
        renewal_date: datetime

    class TierChanged(Aggregate.Event):
        channel_id: UUID
        tier: str

        def apply(self, sub: Subscription) -> None:
            sub.tier = self.tier

    class Cancelled(Aggregate.Event):
        channel_id: UUID

        def apply(self, sub: Subscription) -> None:
            sub.status = SubStatus.CANCELLED.value

    class Expired(Aggregate.Event):
        channel_id: UUID

        def apply(self, sub: Subscription) -> None:
            sub.status = SubStatus.EXPIRED.value

    class Renewed(Aggregate.Event):
        channel_id: UUID
        renewal_date: datetime

        def apply(self, sub: Subscription) -> None:
            sub.renewal_date = self.renewal_date

    class Restarted(Aggregate.Event):
        channel_id: UUID
        tier: str
        renewal_date: datetime

        def apply(self, sub: Subscription) -> None:
            sub.tier = self.tier
            sub.renewal_date = self.renewal_date
            sub.status = SubStatus.ACTIVE.value

    def __init__(self, user_id: UUID, channel_id: UUID, tier: str,
                 renewal_date: datetime) -> None:
        self.user_id = user_id
        self.channel_id = channel_id
        self.tier = tier
        self.renewal_date = renewal_date
        self.status = SubStatus.ACTIVE.value

    @staticmethod
    def create_id(user_id: UUID, channel_id: UUID) -> UUID:  # type: ignore[override]
        return uuid5(NAMESPACE_URL, f"/aethex/subscription/{user_id}/{channel_id}")

    @classmethod
    def start(cls, user_id: UUID, channel_id: UUID, tier: Tier, now: datetime) -> Subscription:
        return cls._create(cls.Started, user_id=user_id, channel_id=channel_id,
                           tier=tier.value, renewal_date=now + PERIOD)

    def subscribe(self, tier: Tier, now: datetime) -> None:
        """Subscribing again: a new period when not active, else a tier change if any."""
        if self.status != SubStatus.ACTIVE.value:
            self.trigger_event(self.Restarted, channel_id=self.channel_id, tier=tier.value,
                               renewal_date=now + PERIOD)
        elif tier.value != self.tier:
            self.trigger_event(self.TierChanged, channel_id=self.channel_id, tier=tier.value)

    def cancel(self) -> None:
        if self.status == SubStatus.EXPIRED.value:
            raise Conflict("the subscription has already expired", field="status")
        if self.status == SubStatus.ACTIVE.value:
            self.trigger_event(self.Cancelled, channel_id=self.channel_id)

    def settle(self, now: datetime) -> None:
        """At its renewal date a subscription renews for another period, or, cancelled,
        expires. Renewal takes no payment yet (monetisation hooks in here); before the
        date, or once expired, nothing happens."""
        if self.status == SubStatus.EXPIRED.value or now < self.renewal_date:
            return
        if self.status == SubStatus.CANCELLED.value:
            self.trigger_event(self.Expired, channel_id=self.channel_id)
            return
        periods = (now - self.renewal_date) // PERIOD + 1  # a sweep that ran late skips none
        self.trigger_event(self.Renewed, channel_id=self.channel_id,
                           renewal_date=self.renewal_date + PERIOD * periods)
