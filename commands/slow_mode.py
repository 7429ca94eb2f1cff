"""When each user last sent to each channel, for slow mode.

In memory when embedded (one process commits every send); in Redis
(`infra.shared_state.slow_mode.RedisLastSent`) when several nodes commit sends, so a user
cannot beat slow mode by reaching different nodes."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from domain.chat_filters import MAX_SLOW_MODE_S

_KEEP = timedelta(seconds=MAX_SLOW_MODE_S)


class SlowModeClock(Protocol):
    """Where the last accepted send of each (channel, user) is kept."""

    def get(self, channel_id: UUID, user_id: UUID) -> datetime | None: ...
    def mark(self, channel_id: UUID, user_id: UUID, now: datetime) -> None: ...


class LastSent:
    """(channel, user) -> the time of their last accepted message; bounded in size."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._times: dict[tuple[UUID, UUID], datetime] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, channel_id: UUID, user_id: UUID) -> datetime | None:
        return self._times.get((channel_id, user_id))

    def mark(self, channel_id: UUID, user_id: UUID, now: datetime) -> None:
        with self._lock:
            if len(self._times) >= self.max_entries:  # forget what no slow mode can need
                self._times = {k: t for k, t in self._times.items() if now - t < _KEEP}
            self._times[(channel_id, user_id)] = now
