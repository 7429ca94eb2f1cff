"""Bot tokens on the real services, over two API nodes: issued and listed by the owner
only, usable as a bearer over HTTP and Socket.IO within their scopes and channel, messages
badged `bot`, moderation logged under the token's name, revocation refused at once on
both nodes (and on an open socket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import socketio

from tests.harness import LiveServer, fresh_production, running
from tests.integration.client import Api, assert_problem


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    tmp = tmp_path_factory.mktemp("bots")
    with fresh_production(tmp, chat_rate_limit="none") as settings, running(settings) as a:
        second = type(settings)(**{**_fields(settings), "workers": "none"})
        with running(second) as b:
            yield a, b


def _fields(settings: Any) -> dict[str, Any]:
    import msgspec

    return msgspec.structs.asdict(settings)


@pytest.fixture
async def apis(nodes: tuple[LiveServer, LiveServer]) -> AsyncIterator[tuple[Api, Api]]:
    a, b = Api(nodes[0].url, nodes[0].ws_url), Api(nodes[1].url, nodes[1].ws_url)
    yield a, b
    await a.close()
    await b.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def issue(api: Api, owner: dict[str, Any], channel_id: str, name: str,
                scopes: list[str]) -> dict[str, Any]:
    r = await api.http.post(f"/api/channels/{channel_id}/tokens",
                            json={"name": name, "scopes": scopes}, headers=owner["headers"])
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_bot_acts_within_its_scopes_and_channel(apis: tuple[Api, Api]) -> None:
    api, _ = apis
    owner, viewer, stranger = await api.register(), await api.register(), await api.register()
    channel = await api.channel(owner)
    stream = await api.go_live(owner, channel["id"])
    other_owner = await api.register()
    other = await api.channel(other_owner)
    other_stream = await api.go_live(other_owner, other["id"])

    # Owner only, and bad input named.
    url = f"/api/channels/{channel['id']}/tokens"
    assert_problem(await api.http.post(url, json={"name": "x", "scopes": ["chat:write"]},
                                       headers=stranger["headers"]), 403)
    assert_problem(await api.http.get(url, headers=stranger["headers"]), 403)
    assert_problem(await api.http.post(url, json={"name": "x", "scopes": ["chat:everything"]},
                                       headers=owner["headers"]), 422, "scopes")
    assert_problem(await api.http.post(url, json={"name": " ", "scopes": ["chat:write"]},
                                       headers=owner["headers"]), 422, "name")

    chatter = await issue(api, owner, channel["id"], "Alerts Bot", ["chat:read", "chat:write"])
    assert chatter["token"].startswith("abt_")
    listed = (await api.http.get(url, headers=owner["headers"])).json()["items"]
    assert [t["name"] for t in listed] == ["Alerts Bot"] and "token" not in listed[0]

    r = await api.http.post(f"/api/streams/{stream['id']}/messages",
                            json={"content": "hello from a bot"}, headers=bearer(chatter["token"]))
    assert r.status_code == 201, r.text
    message = r.json()
    assert message["badges"] == ["bot"] and message["user"]["displayName"] == "Alerts Bot"

    # Outside its channel or its scopes: 403.
    assert_problem(await api.http.post(f"/api/streams/{other_stream['id']}/messages",
                                       json={"content": "spam"},
                                       headers=bearer(chatter["token"])), 403)
    assert_problem(await api.http.post(f"/api/users/{viewer['id']}/block",
                                       json={"channelId": channel["id"]},
                                       headers=bearer(chatter["token"])), 403)
    assert_problem(await api.http.get(f"/api/channels/{channel['id']}/bans",
                                      headers=bearer(chatter["token"])), 403)
    assert_problem(await api.http.get(url, headers=bearer(chatter["token"])), 403)
    assert_problem(await api.http.post("/api/channels", json={"slug": "botland", "name": "B"},
                                       headers=bearer(chatter["token"])), 403)

    # Moderation, under the token's name in the log; another channel's users are not its.
    moderator = await issue(api, owner, channel["id"], "ModBot", ["chat:moderate"])
    r = await api.http.post(f"/api/users/{viewer['id']}/block",
                            json={"channelId": channel["id"], "reason": "spam"},
                            headers=bearer(moderator["token"]))
    assert r.status_code == 200, r.text
    assert_problem(await api.http.post(f"/api/users/{viewer['id']}/block",
                                       json={"channelId": other["id"]},
                                       headers=bearer(moderator["token"])), 403)
    entries: list[dict[str, Any]] = []
    for _ in range(100):
        r = await api.http.get(f"/api/channels/{channel['id']}/moderation-log",
                               headers=owner["headers"])
        entries = [e for e in r.json()["items"] if e["action"] == "user.banned"]
        if entries:
            break
        await asyncio.sleep(0.05)
    assert entries and entries[0]["actorName"] == "ModBot"
    assert entries[0]["actorId"] == moderator["id"]

    # stream:manage ends the stream on the owner's behalf; without it, 403.
    assert_problem(await api.http.post(f"/api/streams/{stream['id']}/end",
                                       headers=bearer(chatter["token"])), 403)
    manager = await issue(api, owner, channel["id"], "Scheduler", ["stream:manage"])
    assert_problem(await api.http.post(f"/api/streams/{other_stream['id']}/end",
                                       headers=bearer(manager["token"])), 403)
    r = await api.http.post(f"/api/streams/{stream['id']}/end", headers=bearer(manager["token"]))
    assert r.status_code == 200 and r.json()["status"] == "ENDING", r.text


async def test_revocation_holds_at_once_on_every_node_and_open_sockets(
        apis: tuple[Api, Api], nodes: tuple[LiveServer, LiveServer]) -> None:
    a, b = apis
    owner = await a.register()
    channel = await a.channel(owner)
    stream = await a.go_live(owner, channel["id"])
    bot = await issue(a, owner, channel["id"], "Socket Bot", ["chat:read", "chat:write"])

    client = socketio.AsyncClient(reconnection=False)
    await client.connect(nodes[1].url, transports=["websocket"], auth={"token": bot["token"]},
                         wait_timeout=10)
    try:
        ack = await client.call("chat:join", {"streamId": stream["id"]}, timeout=10)
        assert ack["ok"], ack
        ack = await client.call("chat:send", {"content": "over socket.io"}, timeout=10)
        assert ack["ok"], ack
        for api in (a, b):  # both nodes take it before
            r = await api.http.post(f"/api/streams/{stream['id']}/messages",
                                    json={"content": "before"}, headers=bearer(bot["token"]))
            assert r.status_code == 201, r.text

        r = await a.http.delete(f"/api/channels/{channel['id']}/tokens/{bot['id']}",
                                headers=owner["headers"])
        assert r.status_code == 200 and r.json()["revoked"], r.text
        for api in (b, a):  # the other node first: no waiting for the relay
            assert_problem(await api.http.post(f"/api/streams/{stream['id']}/messages",
                                               json={"content": "after"},
                                               headers=bearer(bot["token"])), 401)
        ack = await client.call("chat:send", {"content": "after"}, timeout=10)
        assert not ack["ok"] and ack["code"] == "unauthenticated", ack
    finally:
        await client.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        again = socketio.AsyncClient(reconnection=False)
        await again.connect(nodes[0].url, transports=["websocket"],
                            auth={"token": bot["token"]}, wait_timeout=10)
