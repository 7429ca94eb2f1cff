"""SettleSubscription: a subscription at its renewal date renews, or, cancelled, expires
(the subscription sweeper sends it for each one due)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.ports import Store
from domain.subscription import Subscription


class SettleSubscription(msgspec.Struct, frozen=True, kw_only=True):
    """The command: the subscription to settle if its renewal date has come."""

    subscription_id: UUID


def settle_subscription(cmd: SettleSubscription, store: Store,
                        now: datetime | None = None) -> int:
    """The position of what it saved, or 0 when nothing was due."""
    sub = store.get(cmd.subscription_id, Subscription, what="subscription")
    sub.settle(now or datetime.now(UTC))
    return store.save(sub)
