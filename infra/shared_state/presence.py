"""Presence: who is watching which stream, counted across every API node.

Each connection is a member with an expiry; nodes refresh their members' expiries with
heartbeats, so a node that dies stops counting after the TTL. Redis in production (a
sorted set per stream, scored by expiry), memory in the embedded mode.

A signed-in viewer's connection names its user (`member_of`): presence then also knows
who is in the room, one entry per user however many tabs they have open on however many
nodes, and tells the caller when a connection is the user's first (`add`) or last
(`remove`), so "joined" and "left" are said once per user. Anonymous connections are
counted apart.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

import redis.asyncio as aioredis


def member_of(connection_id: str, user_id: str | None) -> str:
    """The member a connection is: its id, and its user's when signed in."""
    return f"{connection_id}|{user_id}" if user_id else connection_id


def user_of(member: str) -> str | None:
    """The user a member names (None: an anonymous connection)."""
    return member.partition("|")[2] or None


class Presence(Protocol):
    async def add(self, stream_id: str, member: str) -> bool:
        """Adds a connection; True when it is its user's first in the room."""
        ...

    async def remove(self, stream_id: str, member: str) -> bool:
        """Removes a connection; True when it was its user's last in the room."""
        ...

    async def refresh(self, members: Iterable[tuple[str, str]]) -> None: ...
    async def count(self, stream_id: str) -> int: ...
    async def chatters(self, stream_id: str) -> list[str]:
        """The users with a connection in the room, on any node."""
        ...

    async def anonymous(self, stream_id: str) -> int:
        """Connections in the room of viewers not signed in."""
        ...

    async def lapsed(self, stream_id: str) -> list[str]:
        """Takes out the users whose every connection expired (their node died without
        closing them) and returns them, each once, to whoever asks first."""
        ...

    async def active_streams(self) -> list[str]: ...
    async def forget_stream(self, stream_id: str) -> None: ...
    async def try_lead(self, name: str, holder: str, ttl_s: float) -> bool: ...
    async def close(self) -> None: ...


def _prune(expiries: dict[str, float]) -> None:
    now = time.time()
    for member in [m for m, exp in expiries.items() if exp <= now]:
        del expiries[member]


# Atomic, so that two tabs of one user joining (or leaving) on two nodes at once give one
# "joined" (one "left"). KEYS: the stream's members, the active streams, then the
# anonymous set, or the room's users and this user's connections.
# ARGV: member, expiry, stream id, now, user ("" when anonymous), the TTL in ms.
_ADD = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
if ARGV[5] == '' then
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[4])
local others = redis.call('ZCARD', KEYS[4])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[6])
redis.call('ZADD', KEYS[3], 'GT', ARGV[2], ARGV[5])
if others == 0 then return 1 end
return 0
"""
# KEYS: the stream's members, then the anonymous set, or the room's users and this
# user's connections. ARGV: member, now, user ("" when anonymous). 1: the user's last.
_REMOVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local removed = redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[3]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return removed
end
return 0
"""

# KEYS: the room's users. ARGV: now. The users whose latest expiry has passed, removed.
_LAPSED = """
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) end
return gone
"""


class MemoryPresence:
    """One process: members and their expiries in dictionaries."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self.members: dict[str, dict[str, float]] = defaultdict(dict)
        # stream -> user -> that user's connections (member -> expiry)
        self.users: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
        self.anon: dict[str, dict[str, float]] = defaultdict(dict)

    async def add(self, stream_id: str, member: str) -> bool:
        expiry = time.time() + self.ttl_s
        self.members[stream_id][member] = expiry
        user = user_of(member)
        if user is None:
            self.anon[stream_id][member] = expiry
            return False
        tabs = self.users[stream_id].setdefault(user, {})
        _prune(tabs)
        first = not tabs
        tabs[member] = expiry
        return first

    async def remove(self, stream_id: str, member: str) -> bool:
        self.members.get(stream_id, {}).pop(member, None)
        user = user_of(member)
        if user is None:
            self.anon.get(stream_id, {}).pop(member, None)
            return False
        room = self.users.get(stream_id, {})
        tabs = room.get(user)
        if tabs is None:
            return False
        removed = tabs.pop(member, None) is not None
        _prune(tabs)
        if tabs:
            return False
        del room[user]
        return removed

    async def refresh(self, members: Iterable[tuple[str, str]]) -> None:
        expiry = time.time() + self.ttl_s
        for stream_id, member in members:
            room = self.members.get(stream_id)
            if room is not None and member in room:  # never resurrect one that just left
                room[member] = expiry
            user = user_of(member)
            same = (self.anon.get(stream_id) if user is None
                    else self.users.get(stream_id, {}).get(user))
            if same is not None and member in same:
                same[member] = expiry

    async def chatters(self, stream_id: str) -> list[str]:
        now = time.time()
        room = self.users.get(stream_id, {})
        return sorted(u for u, tabs in room.items() if any(e > now for e in tabs.values()))

    async def lapsed(self, stream_id: str) -> list[str]:
        room = self.users.get(stream_id, {})
        gone = []
        for user, tabs in list(room.items()):
            _prune(tabs)
            if not tabs:
                del room[user]
                gone.append(user)
        return sorted(gone)

    async def anonymous(self, stream_id: str) -> int:
        room = self.anon.get(stream_id, {})
        _prune(room)
        return len(room)

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
            self.users.pop(stream_id, None)
            self.anon.pop(stream_id, None)

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
        self._add = self.redis.register_script(_ADD)  # run by its SHA, loaded once
        self._remove = self.redis.register_script(_REMOVE)
        self._lapsed = self.redis.register_script(_LAPSED)

    def _key(self, stream_id: str) -> str:
        return f"{self.prefix}:stream:{stream_id}"

    def _side_keys(self, stream_id: str, user: str | None) -> list[str]:
        """Where a member is kept besides the stream's set: the anonymous connections, or
        the room's users (user -> latest expiry) and that user's connections."""
        if user is None:
            return [f"{self.prefix}:anonymous:{stream_id}"]
        return [f"{self.prefix}:chatters:{stream_id}",
                f"{self.prefix}:chatter:{stream_id}:{user}"]

    async def add(self, stream_id: str, member: str) -> bool:
        user = user_of(member)
        keys = [self._key(stream_id), f"{self.prefix}:streams",
                *self._side_keys(stream_id, user)]
        now = time.time()
        first = await self._add(keys=keys, args=[
            member, now + self.ttl_s, stream_id, now, user or "", int(self.ttl_s * 1000)])
        return bool(first)

    async def remove(self, stream_id: str, member: str) -> bool:
        user = user_of(member)
        keys = [self._key(stream_id), *self._side_keys(stream_id, user)]
        last = await self._remove(keys=keys, args=[member, time.time(), user or ""])
        return bool(last)

    async def refresh(self, members: Iterable[tuple[str, str]]) -> None:
        expiry = time.time() + self.ttl_s
        ms = int(self.ttl_s * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream_id, member in members:
                # XX: only members still there; one that just left stays gone.
                pipe.zadd(self._key(stream_id), {member: expiry}, xx=True)
                user = user_of(member)
                side = self._side_keys(stream_id, user)
                if user is None:
                    pipe.zadd(side[0], {member: expiry}, xx=True)
                else:
                    pipe.zadd(side[0], {user: expiry}, xx=True, gt=True)
                    pipe.zadd(side[1], {member: expiry}, xx=True)
                    pipe.pexpire(side[1], ms)
            await pipe.execute()

    async def chatters(self, stream_id: str) -> list[str]:
        # Lapsed users are left for `lapsed` to take out (and to say they left).
        users = await self.redis.zrangebyscore(f"{self.prefix}:chatters:{stream_id}",
                                               f"({time.time()}", "+inf")
        return sorted(users)

    async def lapsed(self, stream_id: str) -> list[str]:
        gone = await self._lapsed(keys=[f"{self.prefix}:chatters:{stream_id}"],
                                  args=[time.time()])
        return sorted(gone)

    async def anonymous(self, stream_id: str) -> int:
        key = f"{self.prefix}:anonymous:{stream_id}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zcard(key)
            _, count = await pipe.execute()
        return int(count)

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
