"""Presence: who is watching which stream, counted across every API node.

Each connection is a member with an expiry; nodes refresh their members' expiries with
heartbeats, so a node that dies stops counting after the TTL. Redis in production (a
sorted set per stream, scored by expiry), memory in the embedded mode.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

import redis.asyncio as aioredis


class Presence(Protocol):
    async def add(self, stream_id: str, member: str) -> None: ...
    async def remove(self, stream_id: str, member: str) -> None: ...
    async def refresh(self, members: Iterable[tuple[str, str]]) -> None: ...
    async def count(self, stream_id: str) -> int: ...
    async def active_streams(self) -> list[str]: ...
    async def forget_stream(self, stream_id: str) -> None: ...
    async def try_lead(self, name: str, holder: str, ttl_s: float) -> bool: ...
    async def close(self) -> None: ...


class MemoryPresence:
    """One process: members and their expiries in dictionaries."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self.members: dict[str, dict[str, float]] = defaultdict(dict)

    async def add(self, stream_id: str, member: str) -> None:
        self.members[stream_id][member] = time.time() + self.ttl_s

    async def remove(self, stream_id: str, member: str) -> None:
        self.members.get(stream_id, {}).pop(member, None)

    async def refresh(self, members: Iterable[tuple[str, str]]) -> None:
        expiry = time.time() + self.ttl_s
        for stream_id, member in members:
            room = self.members.get(stream_id)
            if room is not None and member in room:  # never resurrect one that just left
                room[member] = expiry

    async def count(self, stream_id: str) -> int:
        now = time.time()
        room = self.members.get(stream_id, {})
        for member in [m for m, exp in room.items() if exp <= now]:
            del room[member]
        return len(room)

    async def active_streams(self) -> list[str]:
        return list(self.members)

    async def forget_stream(self, stream_id: str) -> None:
        if not self.members.get(stream_id):
            self.members.pop(stream_id, None)

    async def try_lead(self, name: str, holder: str, ttl_s: float) -> bool:
        return True

    async def close(self) -> None:
        return None


class RedisPresence:
    """Every node: a sorted set per stream (member -> expiry) and a set of active streams."""

    MAX_CONNECTIONS = 32

    def __init__(self, url: str, namespace: str, ttl_s: float = 30.0) -> None:
        # A thousand viewers leaving at once would each want a connection: beyond the pool
        # they wait for one (a plain pool raises MaxConnectionsError instead).
        pool = aioredis.BlockingConnectionPool.from_url(
            url, decode_responses=True, max_connections=self.MAX_CONNECTIONS, timeout=10)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.prefix = f"{namespace}:presence"
        self.ttl_s = ttl_s

    def _key(self, stream_id: str) -> str:
        return f"{self.prefix}:stream:{stream_id}"

    async def add(self, stream_id: str, member: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._key(stream_id), {member: time.time() + self.ttl_s})
            pipe.sadd(f"{self.prefix}:streams", stream_id)
            await pipe.execute()

    async def remove(self, stream_id: str, member: str) -> None:
        await self.redis.zrem(self._key(stream_id), member)

    async def refresh(self, members: Iterable[tuple[str, str]]) -> None:
        expiry = time.time() + self.ttl_s
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream_id, member in members:
                # XX: only members still there; one that just left stays gone.
                pipe.zadd(self._key(stream_id), {member: expiry}, xx=True)
            await pipe.execute()

    async def count(self, stream_id: str) -> int:
        key = self._key(stream_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zcard(key)
            _, count = await pipe.execute()
        return int(count)

    async def active_streams(self) -> list[str]:
        return sorted(await self.redis.smembers(f"{self.prefix}:streams"))

    async def forget_stream(self, stream_id: str) -> None:
        if await self.count(stream_id) == 0:
            await self.redis.srem(f"{self.prefix}:streams", stream_id)

    async def try_lead(self, name: str, holder: str, ttl_s: float) -> bool:
        """A lease: held by `holder` until it lapses; renewed by the holder."""
        key = f"{self.prefix}:lead:{name}"
        ms = int(ttl_s * 1000)
        if await self.redis.set(key, holder, nx=True, px=ms):
            return True
        if await self.redis.get(key) == holder:
            await self.redis.pexpire(key, ms)
            return True
        return False

    async def close(self) -> None:
        await self.redis.aclose()
