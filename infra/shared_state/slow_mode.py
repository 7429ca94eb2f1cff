"""Slow mode's record of when each user last sent to each channel, in Redis: shared by
every node that commits sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import redis

from domain.chat_filters import MAX_SLOW_MODE_S

_KEEP = timedelta(seconds=MAX_SLOW_MODE_S)


class RedisLastSent:
    """The same record in Redis, shared by every node; entries lapse after the longest
    slow mode. Only channels in slow mode touch it."""

    def __init__(self, url: str, namespace: str) -> None:
        self.redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2)
        self.prefix = f"{namespace}:slow"

    def _key(self, channel_id: UUID, user_id: UUID) -> str:
        return f"{self.prefix}:{channel_id}:{user_id}"

    def get(self, channel_id: UUID, user_id: UUID) -> datetime | None:
        value = self.redis.get(self._key(channel_id, user_id))
        return datetime.fromisoformat(value) if value else None

    def mark(self, channel_id: UUID, user_id: UUID, now: datetime) -> None:
        self.redis.set(self._key(channel_id, user_id), now.isoformat(),
                       px=int(_KEEP.total_seconds() * 1000))
