"""ExpireSubscription: a subscription past its renewal date expires (for a periodic sweep;
renewal with payment comes with monetisation)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.ports import Store
from domain.subscription import Subscription


class ExpireSubscription(msgspec.Struct, frozen=True, kw_only=True):
    """The command: the subscription to expire if its date has passed."""

    subscription_id: UUID


def expire_subscription(cmd: ExpireSubscription, store: Store,
                        now: datetime | None = None) -> int:
    sub = store.get(cmd.subscription_id, Subscription, what="subscription")
    sub.expire_if_due(now or datetime.now(UTC))
    return store.save(sub)
