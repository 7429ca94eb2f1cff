"""Presence on Redis under a crowd: a thousand viewers joining and leaving at the same
moment all get through (more at once than the connection pool holds), and the count is
right after each wave."""

from __future__ import annotations

import asyncio

from infra.shared_state.presence import RedisPresence
from tests.harness import REDIS_URL, drop_namespace, new_namespace, require_services


async def test_a_thousand_joins_and_leaves_at_once_all_get_through() -> None:
    require_services()
    namespace = new_namespace()
    presence = RedisPresence(REDIS_URL, namespace, ttl_s=30)
    members = [f"viewer-{i}" for i in range(1000)]
    assert len(members) > 10 * presence.MAX_CONNECTIONS
    try:
        await asyncio.gather(*(presence.add("s1", m) for m in members))
        assert await presence.count("s1") == 1000
        await asyncio.gather(*(presence.remove("s1", m) for m in members))
        assert await presence.count("s1") == 0
    finally:
        await presence.close()
        drop_namespace(namespace)
