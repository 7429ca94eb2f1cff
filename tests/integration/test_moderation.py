"""Chat moderation (issue 6) end to end, in both modes: bans and timeouts, who may do what
(and who may not), the moderation log, channel filters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.harness import LiveServer
from tests.integration.client import Api, assert_problem, next_event


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[Api]:
    client = Api(server.url, server.ws_url)
    yield client
    await client.close()


async def send_frame(ws: ClientConnection, event: str, data: Any = None) -> None:
    await ws.send(json.dumps({"event": event, "data": data}))


async def joined(api: Api, stream_id: str, user: dict[str, Any] | None = None
                 ) -> ClientConnection:
    """A chat socket joined to the stream (its history has arrived)."""
    query = f"?token={user['token']}" if user else ""
    ws = await connect(f"{api.ws_url}/ws/chat{query}")
    await send_frame(ws, "chat:join", {"streamId": stream_id})
    await next_event(ws, "chat:history")
    return ws


class Room:
    """A live channel with its owner, a moderator and a viewer."""

    def __init__(self, owner: dict[str, Any], mod: dict[str, Any], viewer: dict[str, Any],
                 channel_id: str, stream_id: str) -> None:
        self.owner, self.mod, self.viewer = owner, mod, viewer
        self.channel_id, self.stream_id = channel_id, stream_id


async def room(api: Api) -> Room:
    owner, mod, viewer = await api.register(), await api.register(), await api.register()
    channel = await api.channel(owner)
    r = await api.http.put(f"/api/channels/{channel['id']}/moderators/{mod['id']}",
                           headers=owner["headers"])
    assert r.status_code == 200, r.text
    stream = await api.go_live(owner, channel["id"])
    return Room(owner, mod, viewer, channel["id"], stream["id"])


async def ban(api: Api, by: dict[str, Any], user_id: str, channel_id: str,
              **body: Any) -> Any:
    return await api.http.post(f"/api/users/{user_id}/block",
                               json={"channelId": channel_id, **body}, headers=by["headers"])


async def unban(api: Api, by: dict[str, Any], user_id: str, channel_id: str) -> Any:
    return await api.http.delete(f"/api/users/{user_id}/block",
                                 params={"channelId": channel_id}, headers=by["headers"])


async def test_a_ban_refuses_sends_tells_the_sockets_and_removes_recent_messages(
        api: Api) -> None:
    r_ = await room(api)
    sid = r_.stream_id
    sent = [(await api.send(r_.viewer, sid, f"spam {i}")).json() for i in range(2)]
    keep = (await api.send(r_.owner, sid, "welcome")).json()
    watcher = await joined(api, sid)
    banned_ws = await joined(api, sid, r_.viewer)
    try:
        r = await ban(api, r_.mod, r_.viewer["id"], r_.channel_id, reason="spam")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["banned"] is True and body["until"] is None and body["reason"] == "spam"
        assert sorted(body["removedMessageIds"]) == sorted(m["id"] for m in sent)

        deleted = {(await next_event(watcher, "chat:deleted"))["messageId"] for _ in sent}
        assert deleted == {m["id"] for m in sent}
        notice = await next_event(banned_ws, "chat:error")
        assert notice["code"] == "banned" and "banned" in notice["message"]

        await send_frame(banned_ws, "chat:send", {"content": "let me back"})
        assert (await next_event(banned_ws, "chat:error"))["code"] == "banned"
        r = await api.send(r_.viewer, sid, "over http")
        assert "banned" in assert_problem(r, 403)["detail"]

        r = await api.http.get(f"/api/streams/{sid}/messages",
                               params={"after": body["position"]})
        assert [m["id"] for m in r.json()["items"]] == [keep["id"]]

        r = await unban(api, r_.mod, r_.viewer["id"], r_.channel_id)
        assert r.status_code == 200 and r.json()["banned"] is False, r.text
        assert (await api.send(r_.viewer, sid, "sorry")).status_code == 201
        await send_frame(banned_ws, "chat:send", {"content": "sorry again"})
        message = await next_event(watcher, "chat:message")
        while message["content"] != "sorry again":
            message = await next_event(watcher, "chat:message")
        r = await unban(api, r_.mod, r_.viewer["id"], r_.channel_id)
        assert r.status_code == 200 and r.json()["position"] == 0  # nothing to lift
    finally:
        await watcher.close()
        await banned_ws.close()


async def test_a_ban_refuses_a_socket_that_joins_afterwards(api: Api) -> None:
    r_ = await room(api)
    assert (await ban(api, r_.owner, r_.viewer["id"], r_.channel_id)).status_code == 200
    ws = await joined(api, r_.stream_id, r_.viewer)
    try:
        await send_frame(ws, "chat:send", {"content": "hello?"})
        error = await next_event(ws, "chat:error")
        assert error["code"] == "banned"
    finally:
        await ws.close()


async def test_a_timeout_expires_by_itself(api: Api) -> None:
    r_ = await room(api)
    ws = await joined(api, r_.stream_id, r_.viewer)
    try:
        r = await ban(api, r_.mod, r_.viewer["id"], r_.channel_id, durationSeconds=1)
        assert r.status_code == 200 and r.json()["until"] is not None, r.text
        assert (await next_event(ws, "chat:error"))["code"] == "banned"
        r = await api.send(r_.viewer, r_.stream_id, "still here")
        assert "until" in assert_problem(r, 403)["detail"]
        await asyncio.sleep(1.2)
        assert (await api.send(r_.viewer, r_.stream_id, "back")).status_code == 201
        await send_frame(ws, "chat:send", {"content": "back on the socket"})
        assert (await next_event(ws, "chat:message"))["user"]["id"] == r_.viewer["id"]
    finally:
        await ws.close()


async def test_who_may_ban_and_who_may_not(api: Api) -> None:
    a = await room(api)
    b = await room(api)
    other = await api.register()
    # A viewer may not ban, unban or delete someone else's message.
    assert_problem(await ban(api, a.viewer, other["id"], a.channel_id), 403)
    assert_problem(await unban(api, a.viewer, other["id"], a.channel_id), 403)
    msg = (await api.send(other, a.stream_id, "mine")).json()
    assert_problem(await api.http.delete(f"/api/messages/{msg['id']}",
                                         headers=a.viewer["headers"]), 403)
    # Nobody bans the owner; a moderator does not ban another moderator, or themselves.
    assert_problem(await ban(api, a.mod, a.owner["id"], a.channel_id), 403)
    second = await api.register()
    r = await api.http.put(f"/api/channels/{a.channel_id}/moderators/{second['id']}",
                           headers=a.owner["headers"])
    assert r.status_code == 200
    assert_problem(await ban(api, a.mod, second["id"], a.channel_id), 403)
    assert_problem(await ban(api, a.mod, a.mod["id"], a.channel_id), 422, "userId")
    # A moderator of one channel has no rights in another.
    assert_problem(await ban(api, a.mod, b.viewer["id"], b.channel_id), 403)
    assert_problem(await unban(api, a.mod, b.viewer["id"], b.channel_id), 403)
    msg_b = (await api.send(b.viewer, b.stream_id, "in b")).json()
    assert_problem(await api.http.delete(f"/api/messages/{msg_b['id']}",
                                         headers=a.mod["headers"]), 403)
    # Bad input: no such channel or user, a duration out of range, no sign-in.
    assert_problem(await ban(api, a.mod, other["id"], "00000000-0000-0000-0000-000000000000"),
                   404)
    assert_problem(await ban(api, a.mod, "00000000-0000-0000-0000-000000000000", a.channel_id),
                   404)
    assert_problem(await ban(api, a.mod, other["id"], a.channel_id, durationSeconds=0), 422,
                   "durationSeconds")
    r = await api.http.post(f"/api/users/{other['id']}/block", json={"channelId": a.channel_id})
    assert_problem(r, 401)
    # The owner may ban a moderator, who stops being one.
    assert (await ban(api, a.owner, second["id"], a.channel_id)).status_code == 200
    assert_problem(await ban(api, second, other["id"], a.channel_id), 403)
    # A ban in one channel leaves the user free in another.
    assert (await ban(api, a.mod, other["id"], a.channel_id)).status_code == 200
    assert_problem(await api.send(other, a.stream_id, "a?"), 403)
    assert (await api.send(other, b.stream_id, "b!")).status_code == 201
