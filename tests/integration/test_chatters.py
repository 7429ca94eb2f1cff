"""Who is here: the signed-in viewers of a room with their badges, over HTTP
(`GET /api/streams/{id}/chatters`) and the socket (`chat:users` on joining, then
`chat:user-joined` / `chat:user-left`, once per user however many tabs), on one node in
both modes, over Socket.IO, and across two API nodes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from websockets.asyncio.client import ClientConnection

from tests.harness import LiveServer, serving
from tests.integration.client import Api, assert_problem, next_event, next_frame
from tests.integration.test_chat_nodes import two_nodes  # noqa: F401  (a fixture)

FAST = {"viewer_sample_s": 0.2, "presence_heartbeat_s": 0.5, "ws_coalesce_ms": 5.0}


@pytest.fixture(params=["embedded", "production"])
def chatters_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    with serving(request.param, tmp_path, **FAST) as live:
        yield live


@pytest.fixture
async def api(chatters_server: LiveServer) -> AsyncIterator[Api]:
    client = Api(chatters_server.url, chatters_server.ws_url)
    yield client
    await client.close()


async def room(api: Api) -> tuple[dict[str, Any], dict[str, Any], str]:
    owner = await api.register()
    channel = await api.channel(owner)
    stream = await api.go_live(owner, channel["id"])
    # Joining needs the stream in the read model.
    await api.http.get(f"/api/streams/{stream['id']}", params={"after": stream["position"]})
    return owner, channel, stream["id"]


async def chatters(api: Api, sid: str, **params: Any) -> dict[str, Any]:
    r = await api.http.get(f"/api/streams/{sid}/chatters", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def next_of(ws: ClientConnection, events: tuple[str, ...],
                  timeout: float = 10) -> tuple[str, Any]:
    """The next frame that is one of `events`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        frame = await next_frame(ws, max(deadline - asyncio.get_running_loop().time(), 0.01))
        if frame["event"] in events:
            return frame["event"], frame["data"]


PRESENCE = ("chat:user-joined", "chat:user-left")


async def test_chatters_with_badges_once_per_user(api: Api) -> None:
    owner, channel, sid = await room(api)
    mod, sub, plain = [await api.register() for _ in range(3)]
    r = await api.http.put(f"/api/channels/{channel['id']}/moderators/{mod['id']}",
                           headers=owner["headers"])
    assert r.status_code == 200, r.text
    r = await api.http.post(f"/api/channels/{channel['id']}/subscription",
                            json={"tier": "BASIC"}, headers=sub["headers"])
    assert r.status_code == 200, r.text
    await api.http.get(f"/api/streams/{sid}/chatters", params={"after": r.json()["position"]})
    sockets: list[ClientConnection] = []
    try:
        watcher = await api.subscribe(sid)
        sockets.append(watcher)
        snapshot = await next_event(watcher, "chat:users")
        assert snapshot == {"streamId": sid, "items": [], "nextCursor": None, "count": 0,
                            "anonymous": 1}

        tab1 = await api.subscribe(sid, plain["token"])
        sockets.append(tab1)
        assert await next_of(watcher, PRESENCE) == ("chat:user-joined", {
            "id": plain["id"], "username": plain["username"],
            "displayName": plain["username"].title(), "avatar": None, "badges": []})
        mine = await next_event(tab1, "chat:users")  # includes the joiner itself
        assert [u["id"] for u in mine["items"]] == [plain["id"]]
        tab2 = await api.subscribe(sid, plain["token"])  # a second tab: no second "joined"
        sockets.append(tab2)
        for user, badges in ((mod, ["moderator"]), (sub, ["subscriber"]),
                             (owner, ["broadcaster"])):
            sockets.append(await api.subscribe(sid, user["token"]))
            event, data = await next_of(watcher, PRESENCE)
            assert (event, data["id"], data["badges"]) == ("chat:user-joined", user["id"],
                                                           badges)

        listed = await chatters(api, sid)
        assert [u["id"] for u in listed["items"]] == [owner["id"], mod["id"], sub["id"],
                                                     plain["id"]]
        assert [u["badges"] for u in listed["items"]] == [["broadcaster"], ["moderator"],
                                                         ["subscriber"], []]
        assert listed["items"][0]["username"] == owner["username"]
        assert (listed["count"], listed["anonymous"], listed["nextCursor"]) == (4, 1, None)
        walked, cursor = [], None
        while True:
            page = await chatters(api, sid, limit=1, **({"cursor": cursor} if cursor else {}))
            walked += page["items"]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert walked == listed["items"]

        late = await api.subscribe(sid)
        sockets.append(late)
        snapshot = await next_event(late, "chat:users")
        assert snapshot["items"] == listed["items"]
        assert (snapshot["count"], snapshot["anonymous"]) == (4, 2)

        await tab1.close()  # plain still has a tab open: not "left"
        await sockets[3].close()  # the moderator's only tab
        assert await next_of(watcher, PRESENCE) == ("chat:user-left", mod["id"])
        await tab2.close()
        assert await next_of(watcher, PRESENCE) == ("chat:user-left", plain["id"])
        left = await chatters(api, sid)
        assert [u["id"] for u in left["items"]] == [owner["id"], sub["id"]]
        assert (left["count"], left["anonymous"]) == (2, 2)
    finally:
        for ws in sockets:
            await ws.close()


async def test_chatters_refuses_what_names_nothing(api: Api) -> None:
    _, _, sid = await room(api)
    assert_problem(await api.http.get(f"/api/streams/{uuid.uuid4()}/chatters"), 404)
    assert_problem(await api.http.get("/api/streams/not-a-stream/chatters"), 404)
    for cursor in ("garbled!", "WzEsMl0", "e30"):
        assert_problem(await api.http.get(f"/api/streams/{sid}/chatters",
                                          params={"cursor": cursor}), 422, "cursor")
    for limit in ("0", "101", "lots"):
        assert_problem(await api.http.get(f"/api/streams/{sid}/chatters",
                                          params={"limit": limit}), 422, "limit")


async def test_the_user_list_over_socketio(api: Api) -> None:
    _, _, sid = await room(api)
    alice = await api.register()
    seen: dict[str, list[Any]] = {"viewer": [], "alice": []}
    clients = []
    try:
        for name, token in (("viewer", None), ("alice", alice["token"])):
            client = socketio.AsyncClient(reconnection=False)

            def record(event: str, data: Any, into: list[Any] = seen[name]) -> None:
                into.append((event, data))

            client.on("*", record)
            await client.connect(api.http.base_url.__str__().rstrip("/"),
                                 auth={"token": token} if token else None,
                                 transports=["websocket"])
            clients.append(client)
            ack = await client.call("chat:join", {"streamId": sid}, timeout=10)
            assert ack["ok"] is True

        async def until_seen(who: str, event: str) -> Any:
            for _ in range(200):
                found = [d for e, d in seen[who] if e == event]
                if found:
                    return found[0]
                await asyncio.sleep(0.05)
            raise AssertionError(f"{who} never got {event}: {seen[who]}")

        assert (await until_seen("viewer", "chat:users"))["anonymous"] == 1
        assert (await until_seen("viewer", "chat:user-joined"))["id"] == alice["id"]
        users = await until_seen("alice", "chat:users")
        assert [u["id"] for u in users["items"]] == [alice["id"]]
        await clients[1].disconnect()
        assert await until_seen("viewer", "chat:user-left") == alice["id"]
    finally:
        for client in clients:
            await client.disconnect()


async def test_chatters_across_nodes(two_nodes: list[str]) -> None:  # noqa: F811
    a = Api(two_nodes[0], two_nodes[0].replace("http", "ws"))
    b = Api(two_nodes[1], two_nodes[1].replace("http", "ws"))
    sockets: list[ClientConnection] = []
    try:
        owner, _, sid = await room(a)
        await b.http.get(f"/api/streams/{sid}")
        alice = await a.register()
        watcher_b = await b.subscribe(sid)
        sockets.append(watcher_b)
        await next_event(watcher_b, "chat:users")
        on_a = await a.subscribe(sid, alice["token"])
        sockets.append(on_a)
        # Joined on A, heard on B.
        assert await next_of(watcher_b, PRESENCE) == ("chat:user-joined", {
            "id": alice["id"], "username": alice["username"],
            "displayName": alice["username"].title(), "avatar": None, "badges": []})
        on_b = await b.subscribe(sid, alice["token"])  # her second tab, on the other node
        sockets.append(on_b)
        snapshot = await next_event(on_b, "chat:users")
        assert [u["id"] for u in snapshot["items"]] == [alice["id"]]
        for api in (a, b):
            listed = await chatters(api, sid)
            assert [u["id"] for u in listed["items"]] == [alice["id"]]
            assert (listed["count"], listed["anonymous"]) == (1, 1)

        watcher_a = await a.subscribe(sid, owner["token"])
        sockets.append(watcher_a)
        assert (await next_of(watcher_b, PRESENCE))[1]["id"] == owner["id"]  # not alice again
        assert (await next_of(watcher_a, PRESENCE))[1]["id"] == owner["id"]  # its own join
        await on_a.close()  # her tab on A: she is still here, on B
        await asyncio.sleep(0.5)
        assert [u["id"] for u in (await chatters(a, sid))["items"]] == [owner["id"], alice["id"]]
        await on_b.close()  # her last tab: "left", heard on A
        assert await next_of(watcher_a, PRESENCE) == ("chat:user-left", alice["id"])
        assert [u["id"] for u in (await chatters(b, sid))["items"]] == [owner["id"]]
    finally:
        for ws in sockets:
            await ws.close()
        await asyncio.gather(a.close(), b.close())
