"""Presence of users, on Redis and in memory: a user's first tab is "joined" and the last
"left" exactly once, even when tabs come and go on several nodes at the same moment;
anonymous connections are counted apart; a user whose node died lapses, and the sampler
says they left."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from infra.messaging.bus import LiveUpdate
from infra.shared_state.presence import MemoryPresence, Presence, RedisPresence, member_of
from tests.harness import REDIS_URL, drop_namespace, new_namespace, require_services
from workers.presence_sampler import PresenceSampler


@pytest.fixture(params=["memory", "redis"])
async def presences(request: pytest.FixtureRequest) -> AsyncIterator[list[Presence]]:
    """Two nodes' views of one presence (on Redis: two clients; in memory: one store)."""
    if request.param == "memory":
        shared = MemoryPresence(ttl_s=30)
        yield [shared, shared]
        return
    require_services()
    namespace = new_namespace()
    nodes = [RedisPresence(REDIS_URL, namespace, ttl_s=30) for _ in range(2)]
    try:
        yield nodes  # type: ignore[misc]
    finally:
        for node in nodes:
            await node.close()
        drop_namespace(namespace)


async def test_first_and_last_tab_once_per_user(presences: list[Presence]) -> None:
    a, b = presences
    tabs = [member_of(f"conn{i}", "ada") for i in range(20)]
    # Twenty tabs joining at once, half on each node: one of them is the first.
    firsts = await asyncio.gather(*(
        (a if i % 2 else b).add("s1", m) for i, m in enumerate(tabs)))
    assert sum(firsts) == 1
    assert await a.add("s1", member_of("connx", "bob")) is True
    assert await b.add("s1", "anon-1") is False
    assert await b.add("s1", "anon-2") is False
    for node in (a, b):
        assert await node.chatters("s1") == ["ada", "bob"]
        assert await node.anonymous("s1") == 2
        assert await node.count("s1") == 23
    lasts = await asyncio.gather(*(
        (b if i % 2 else a).remove("s1", m) for i, m in enumerate(tabs)))
    assert sum(lasts) == 1
    assert await a.remove("s1", tabs[0]) is False  # gone already: not a second "left"
    assert await b.chatters("s1") == ["bob"]
    await a.remove("s1", "anon-1")
    assert await b.anonymous("s1") == 1
    assert await a.chatters("other") == [] and await a.anonymous("other") == 0


async def test_a_dead_nodes_users_lapse_and_are_said_to_have_left() -> None:
    presence = MemoryPresence(ttl_s=0.2)
    live_tab, dead_tab = member_of("c1", "ada"), member_of("c2", "bob")
    await presence.add("s1", live_tab)
    await presence.add("s1", dead_tab)
    published: list[LiveUpdate] = []

    async def publish_live(updates: list[LiveUpdate], **_: Any) -> None:
        published.extend(updates)

    async def execute(command: Any) -> int:
        return 0

    services = SimpleNamespace(settings=SimpleNamespace(viewer_sample_s=1.0),
                               presence=presence,
                               commands=SimpleNamespace(execute=execute),
                               bus=SimpleNamespace(publish_live=publish_live))
    sampler = PresenceSampler(services, "node-1")  # type: ignore[arg-type]
    for _ in range(4):  # only the live node's heartbeat refreshes its tab
        await asyncio.sleep(0.1)
        await presence.refresh([("s1", live_tab)])
    assert await presence.chatters("s1") == ["ada"]
    await sampler.sample_once()
    assert published == [LiveUpdate("s1", "chat:user-left", "bob")]
    await sampler.sample_once()
    assert len(published) == 1  # said once
    assert await presence.add("s1", member_of("c3", "bob")) is True  # back: joined again


async def test_lapsed_users_on_redis_are_taken_out_once() -> None:
    require_services()
    namespace = new_namespace()
    nodes = [RedisPresence(REDIS_URL, namespace, ttl_s=0.3) for _ in range(2)]
    try:
        await nodes[0].add("s1", member_of("c1", "ada"))
        await nodes[1].add("s1", member_of("c2", "bob"))
        for _ in range(5):
            await asyncio.sleep(0.1)
            await nodes[0].refresh([("s1", member_of("c1", "ada"))])
        assert await nodes[1].chatters("s1") == ["ada"]
        taken = await asyncio.gather(nodes[0].lapsed("s1"), nodes[1].lapsed("s1"))
        assert sorted(taken, key=len) == [[], ["bob"]]
        assert await nodes[1].add("s1", member_of("c3", "bob")) is True
    finally:
        for node in nodes:
            await node.close()
        drop_namespace(namespace)
