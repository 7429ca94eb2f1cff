"""Rate limits (moving windows; Redis across nodes, memory embedded): per-user chat, and
failed sign-ins per account and per client address."""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from limits.storage.base import Storage

from domain.errors import RateLimited


def limit_storage(redis_url: str | None, namespace: str) -> Storage:
    """Counters in Redis under `<namespace>:limits` (shared by every node), else memory."""
    if redis_url:
        uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
        return storage_from_string(uri, key_prefix=f"{namespace}:limits",
                                   implementation="redispy")
    return storage_from_string("async+memory://")


def _none(rule: str) -> bool:
    return rule.strip().lower() in {"none", "off"}


def _rule_text(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name + ("s" if item.multiples != 1 else "")
    return f"{item.amount} per {item.multiples} {unit}"


class LoginThrottle:
    """Failed sign-ins counted per account and per client address.

    An address over its limit is refused before the password is checked, whoever it
    names. An account over its limit is refused (so guessing one account's password from
    many addresses stops too), except from an address that signed in to that account
    successfully before: the owner is not locked out by someone else's failures, unless
    they share the owner's address and so its limit. Refusals come before the password
    hash is verified, so a throttled guess costs the server nothing and tells nothing.
    Only failures count; a success leaves the counters alone."""

    TRUST = parse("1 per 30 days")

    def __init__(self, per_account: str, per_address: str, redis_url: str | None,
                 namespace: str) -> None:
        self.off = _none(per_account) and _none(per_address)
        # `none` for one of them: a limit too high to reach stands in for it.
        self.per_account = parse("1000000 per 1 second" if _none(per_account) else per_account)
        self.per_address = parse("1000000 per 1 second" if _none(per_address) else per_address)
        self.limiter = MovingWindowRateLimiter(limit_storage(redis_url, namespace))

    async def _retry_after(self, item: RateLimitItem, *keys: str) -> float:
        stats = await self.limiter.get_window_stats(item, *keys)
        return max(1.0, stats.reset_time - time.time())

    async def check(self, account: str, address: str) -> None:
        """Raises RateLimited (429 with Retry-After) when this attempt may not be made."""
        if self.off:
            return
        if not await self.limiter.test(self.per_address, "login-address", address):
            raise RateLimited(
                f"too many failed sign-ins from this address (at most "
                f"{_rule_text(self.per_address)}); try again later",
                retry_after_s=await self._retry_after(self.per_address, "login-address",
                                                      address), field="email")
        if not await self.limiter.test(self.per_account, "login-account", account) \
                and not await self.trusted(account, address):
            raise RateLimited(
                f"too many failed sign-ins to this account (at most "
                f"{_rule_text(self.per_account)}); try again later",
                retry_after_s=await self._retry_after(self.per_account, "login-account",
                                                      account), field="email")

    async def failed(self, account: str, address: str) -> None:
        """Counts a wrong password (or an unknown email) against both."""
        if self.off:
            return
        await self.limiter.hit(self.per_address, "login-address", address)
        await self.limiter.hit(self.per_account, "login-account", account)

    async def succeeded(self, account: str, address: str) -> None:
        """Remembers the address as one the account's owner signs in from."""
        if self.off:
            return
        if await self.limiter.test(self.TRUST, "login-trusted", account, address):
            await self.limiter.hit(self.TRUST, "login-trusted", account, address)

    async def trusted(self, account: str, address: str) -> bool:
        # A hit in the 30-day window is the mark: the window is full when one exists.
        return not await self.limiter.test(self.TRUST, "login-trusted", account, address)


class ChatRateLimiter:
    """`allow(user_id)` records a send and says whether it is within the limit.
    The rule `none` turns the limit off (load tests: a moving window keeps one entry per
    allowed send, so a huge limit would cost more than no limit)."""

    def __init__(self, rule: str, redis_url: str | None, namespace: str) -> None:
        self.off = rule.strip().lower() in {"none", "off"}
        self.item: RateLimitItem = parse("1 per second" if self.off else rule)
        self.limiter = MovingWindowRateLimiter(limit_storage(redis_url, namespace))

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
