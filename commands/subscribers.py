"""Who subscribes to which channel, for the `subscriber` badge on chat messages.

The send batch asks for each distinct (author, channel); answers come from the Subscription
aggregate and are kept for a minute, so a busy chat costs one read per chatter per minute.
A new subscriber's badge may therefore appear up to a minute late."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from uuid import UUID

from commands.ports import Store
from domain.subscription import Subscription, SubStatus


class SubscriberCache:
    """(user, channel) -> whether the user's subscription runs now; bounded, with a TTL."""

    def __init__(self, ttl: timedelta = timedelta(seconds=60), max_entries: int = 200_000
                 ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[UUID, UUID], tuple[bool, datetime]] = {}
        self._lock = threading.Lock()

    def is_subscriber(self, store: Store, user_id: UUID, channel_id: UUID,
                      now: datetime) -> bool:
        key = (user_id, channel_id)
        hit = self._entries.get(key)
        if hit is not None and now < hit[1]:
            return hit[0]
        sub = store.find(Subscription.create_id(user_id, channel_id), Subscription)
        # A cancelled subscription runs to its renewal date; an expired one is over.
        value = (sub is not None and sub.status != SubStatus.EXPIRED.value
                 and now < sub.renewal_date)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if now < v[1]}
            self._entries[key] = (value, now + self.ttl)
        return value
