"""The subscription sweeper: settles each subscription whose renewal date has come (an
active one renews, a cancelled one expires).

Due subscriptions are read from the subscriptions read model on every pass, so nothing is
missed across restarts and any node can run it: the decision is the aggregate's
(`Subscription.settle`), so two nodes settling the same subscription conflict harmlessly and
the loser finds nothing left to do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import structlog

from commands.ports import Store
from commands.settle_subscription import SettleSubscription, settle_subscription
from domain.errors import DomainError
from infra.readstore.database import Database
from projections.subscriptions import due_subscriptions

log = structlog.get_logger(__name__)


class SubscriptionSweeper:
    name = "subscription_sweeper"

    def __init__(self, store: Store, db: Database, *, poll_s: float = 60.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.db = db
        self.poll_s = poll_s
        self.clock = clock
        self.settled = 0

    def step(self) -> int:
        """One pass: settles every due subscription; returns how many changed."""
        now = self.clock()
        changed = 0
        for sid in due_subscriptions(self.db, now):
            try:
                changed += settle_subscription(
                    SettleSubscription(subscription_id=UUID(sid)), self.store, now) > 0
            except DomainError as e:  # settled by another node a moment ago
                log.info("subscription_sweeper.skipped", subscription_id=sid, reason=e.message)
        self.settled += changed
        if changed:
            log.info("subscription_sweeper.settled", count=changed)
        return changed

    async def run(self, stopping: asyncio.Event) -> None:
        """Sweeps every `poll_s` until `stopping` is set. A failed pass raises: the
        supervisor logs and counts it and runs this again after a backoff."""
        log.info("subscription_sweeper.started")
        while not stopping.is_set():
            await asyncio.to_thread(self.step)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.poll_s)
