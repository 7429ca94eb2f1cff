"""Per-user rate limits for chat (moving window; Redis across nodes, memory embedded)."""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from domain.errors import RateLimited


class ChatRateLimiter:
    """`allow(user_id)` records a send and says whether it is within the limit.
    The rule `none` turns the limit off (load tests: a moving window keeps one entry per
    allowed send, so a huge limit would cost more than no limit)."""

    def __init__(self, rule: str, redis_url: str | None, namespace: str) -> None:
        self.off = rule.strip().lower() in {"none", "off"}
        self.item: RateLimitItem = parse("1 per second" if self.off else rule)
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            storage = storage_from_string(uri, key_prefix=f"{namespace}:limits",
                                          implementation="redispy")
        else:
            storage = storage_from_string("async+memory://")
        self.limiter = MovingWindowRateLimiter(storage)

    @property
    def rule(self) -> str:
        return f"{self.item.amount} per {self.item.multiples} {self.item.GRANULARITY.name}"

    async def allow(self, user_id: str) -> bool:
        return self.off or await self.limiter.hit(self.item, "chat", user_id)

    async def retry_after(self, user_id: str) -> float:
        stats = await self.limiter.get_window_stats(self.item, "chat", user_id)
        return max(0.0, stats.reset_time - time.time())

    async def enforce(self, user_id: str) -> None:
        """Counts a send, or refuses it with RateLimited (HTTP 429, `chat:error`)."""
        if not await self.allow(user_id):
            raise RateLimited(f"slow down: at most {self.rule} per user",
                              retry_after_s=await self.retry_after(user_id), field="content")
