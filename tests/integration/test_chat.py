"""The chat contract on both transports: plain WebSocket (JSON frames) and Socket.IO
(the stock Node `socket.io-client`), on the embedded mode and on PostgreSQL + RabbitMQ +
Redis."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.harness import (
    LiveServer,
    embedded_settings,
    running,
    serving,
)
from tests.integration.client import Api, flood_room, next_event

NODE_DIR = Path(__file__).parent / "node"
CHAT = {"viewer_sample_s": 0.2, "presence_heartbeat_s": 0.5, "chat_rate_limit": "5 per 30 seconds",
        "ws_coalesce_ms": 5.0}


@pytest.fixture(params=["embedded", "production"])
def chat_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    # Production mode has Redis: presence and rate limits across nodes.
    with serving(request.param, tmp_path, **CHAT) as live:
        yield live


@pytest.fixture
async def api(chat_server: LiveServer) -> AsyncIterator[Api]:
    client = Api(chat_server.url, chat_server.ws_url)
    yield client
    await client.close()


async def live_stream(api: Api) -> tuple[dict[str, Any], str]:
    owner = await api.register()
    channel = await api.channel(owner)
    return owner, (await api.go_live(owner, channel["id"]))["id"]


async def chat_socket(api: Api, token: str | None = None) -> ClientConnection:
    return await connect(f"{api.ws_url}/ws/chat" + (f"?token={token}" if token else ""))


async def send_frame(ws: ClientConnection, event: str, data: Any = None) -> None:
    await ws.send(json.dumps({"event": event, "data": data}))


async def test_join_send_type_delete_and_leave_over_websocket(api: Api) -> None:
    owner, sid = await live_stream(api)
    alice = await api.register()
    last = 0
    for i in range(3):
        r = await api.send(owner, sid, f"before {i}")
        assert r.status_code == 201
        last = r.json()["position"]

    viewer = await chat_socket(api)
    sender = await chat_socket(api, alice["token"])
    try:
        await send_frame(viewer, "chat:join", {"streamId": sid, "after": last})
        history = await next_event(viewer, "chat:history")
        assert [m["content"] for m in history] == ["before 0", "before 1", "before 2"]
        assert set(history[0]) >= {"id", "streamId", "channelId", "user", "content", "createdAt"}
        assert set(history[0]["user"]) >= {"id", "username", "displayName", "badges"}
        status = await next_event(viewer, "stream:status")
        assert status["status"] == "LIVE" and status["id"] == sid
        assert (await next_event(viewer, "stream:viewers"))["count"] >= 1

        await send_frame(viewer, "chat:send", {"content": "anonymous"})
        assert (await next_event(viewer, "chat:error"))["code"] == "unauthenticated"

        await send_frame(sender, "chat:join", {"streamId": sid})
        joined = await next_event(viewer, "chat:user-joined")
        assert joined["id"] == alice["id"] and joined["username"] == alice["username"]

        await send_frame(sender, "chat:send", {"content": "  hi <b>all</b>\x00 "})
        message = await next_event(viewer, "chat:message")
        assert message["content"] == "hi <b>all</b>"  # text, stored and sent as text
        assert message["user"]["id"] == alice["id"] and message["streamId"] == sid
        assert (await next_event(sender, "chat:message"))["id"] == message["id"]

        await send_frame(sender, "chat:send", {"content": "y" * 501})
        assert (await next_event(sender, "chat:error"))["code"] == "too_long"
        await send_frame(sender, "chat:send", {"content": " \t "})
        assert (await next_event(sender, "chat:error"))["code"] == "invalid_content"
        await send_frame(sender, "chat:shout", {})
        assert (await next_event(sender, "chat:error"))["code"] == "unknown_event"
        await sender.send("not json")
        assert (await next_event(sender, "chat:error"))["code"] == "bad_frame"

        await send_frame(sender, "chat:typing")
        assert (await next_event(viewer, "chat:typing")) == {"userId": alice["id"]}

        r = await api.http.delete(f"/api/messages/{message['id']}", headers=owner["headers"])
        assert r.status_code == 200
        assert (await next_event(viewer, "chat:deleted"))["messageId"] == message["id"]

        await send_frame(sender, "chat:leave")
        assert await next_event(viewer, "chat:user-left") == alice["id"]
        await send_frame(sender, "chat:send", {"content": "after leaving"})
        assert (await next_event(sender, "chat:error"))["code"] == "not_joined"

        await api.http.post(f"/api/streams/{sid}/end", headers=owner["headers"])
        ended = await next_event(viewer, "stream:status")
        while ended["status"] != "ENDING":
            ended = await next_event(viewer, "stream:status")
        await send_frame(sender, "chat:join", {"streamId": sid})
        await send_frame(sender, "chat:send", {"content": "offline now"})
        assert (await next_event(sender, "chat:error"))["code"] == "stream_offline"
    finally:
        await viewer.close()
        await sender.close()


async def test_unknown_stream_and_bad_token(api: Api) -> None:
    ws = await chat_socket(api)
    try:
        await send_frame(ws, "chat:join", {"streamId": "00000000-0000-0000-0000-000000000000"})
        assert (await next_event(ws, "chat:error"))["code"] == "not_found"
        await send_frame(ws, "chat:join", {"nope": 1})
        assert (await next_event(ws, "chat:error"))["code"] == "bad_request"
    finally:
        await ws.close()
    # A connection made to be in one room is closed when it cannot be: told why first.
    gone = await connect(f"{api.ws_url}/ws/streams/00000000-0000-0000-0000-000000000000")
    assert (await next_event(gone, "chat:error"))["code"] == "not_found"
    await gone.wait_closed()
    assert gone.close_code == 4404
    bad = await chat_socket(api, "not-a-token")
    assert (await next_event(bad, "chat:error"))["code"] == "unauthenticated"
    await bad.wait_closed()
    assert bad.close_code == 4401


async def test_rate_limit_refuses_with_chat_error_and_http_429(
        api: Api, chat_server: LiveServer) -> None:
    _, sid = await live_stream(api)
    bob = await api.register()
    ws = await chat_socket(api, bob["token"])
    try:
        await send_frame(ws, "chat:join", {"streamId": sid})
        await next_event(ws, "chat:history")
        for i in range(5):
            await send_frame(ws, "chat:send", {"content": f"m{i}"})
        await send_frame(ws, "chat:send", {"content": "one too many"})
        error = await next_event(ws, "chat:error")
        assert error["code"] == "rate_limited"
        r = await api.send(bob, sid, "over http too")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.headers["content-type"].startswith("application/problem+json")
        # Both refusals counted for the failed-message rate (recorded as events later).
        counts, _ = chat_server.services.refusals.take()
        assert counts == {(UUID(sid), "rate_limited"): 2}
    finally:
        await ws.close()


async def test_reconnect_resumes_from_the_last_message_seen(api: Api) -> None:
    owner, sid = await live_stream(api)
    ws = await chat_socket(api)
    await send_frame(ws, "chat:join", {"streamId": sid})
    await next_event(ws, "chat:history")
    await api.send(owner, sid, "seen")
    last = await next_event(ws, "chat:message")
    await ws.close()

    missed = [await api.send(owner, sid, f"missed {i}") for i in range(3)]
    positions = [r.json()["position"] for r in missed]
    # Wait until the history has them, as a client would simply by reconnecting later.
    await api.http.get(f"/api/streams/{sid}/messages", params={"after": max(positions)})
    ws = await chat_socket(api)
    try:
        await send_frame(ws, "chat:join", {"streamId": sid, "since": last["id"]})
        history = await next_event(ws, "chat:history")
        assert [m["content"] for m in history] == ["missed 0", "missed 1", "missed 2"]
        await api.send(owner, sid, "live again")
        assert (await next_event(ws, "chat:message"))["content"] == "live again"
    finally:
        await ws.close()


async def test_viewer_counts_are_sampled_into_the_stream(api: Api) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    sid = (await api.go_live(owner, channel["id"]))["id"]
    sockets = [await chat_socket(api) for _ in range(4)]
    try:
        for ws in sockets:
            await send_frame(ws, "chat:join", {"streamId": sid})
            await next_event(ws, "chat:history")
        viewers = await next_event(sockets[0], "stream:viewers", timeout=10)
        while viewers["count"] != 4:
            viewers = await next_event(sockets[0], "stream:viewers", timeout=10)
        assert viewers["peak"] == 4
        for ws in sockets[2:]:
            await ws.close()
        viewers = await next_event(sockets[0], "stream:viewers", timeout=10)
        while viewers["count"] != 2:
            viewers = await next_event(sockets[0], "stream:viewers", timeout=10)
        assert viewers["peak"] == 4
        stream = (await api.http.get(f"/api/streams/{sid}")).json()
        assert stream["viewerCount"] == 2 and stream["peakViewers"] == 4
        # Views count arrivals: 4 came (the drop to 2 takes none away). The channel page is
        # its own projection: give it the moment it may lag behind the stream's.
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            page = (await api.http.get(f"/api/channels/{channel['slug']}")).json()
            if page["viewCount"] == 4 and page["viewerCount"] == 2:
                break
            assert asyncio.get_running_loop().time() < deadline, page
            await asyncio.sleep(0.05)
    finally:
        for ws in sockets[:2]:
            await ws.close()


async def test_slow_consumer_is_dropped_and_the_room_goes_on(tmp_path: Path) -> None:
    """A client that stops reading fills the kernel's buffers, then its bounded queue, and
    is let go; the others in the room get everything, in order."""
    settings = embedded_settings(tmp_path, ws_max_queue=10, ws_coalesce_ms=0.0)
    with running(settings) as server:
        api = Api(server.url, server.ws_url)
        try:
            _, sid = await live_stream(api)
            slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            slow.connect(("127.0.0.1", server.port))
            slow.sendall((f"GET /ws/streams/{sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            fast = await api.subscribe(sid)
            litestar = server.app.litestar
            gateway = litestar.state.gateway
            deadline = asyncio.get_running_loop().time() + 10
            while len(gateway.sessions) < 2:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.02)

            total, got = 150, []

            async def read_fast() -> None:
                while len(got) < total:
                    got.append(await next_event(fast, "chat:message", timeout=20))

            reader = asyncio.create_task(read_fast())
            await flood_room(litestar, sid, total)
            await asyncio.wait_for(reader, 30)
            assert [m["id"] for m in got] == [str(i) for i in range(total)]
            while len(gateway.sessions) != 1:  # the slow one is let go
                assert asyncio.get_running_loop().time() < deadline + 30, "slow client kept"
                await asyncio.sleep(0.05)
            # ... and so is its connection, with what was queued for it, although it still
            # reads nothing: a server that waited for it to drain would hold the socket and
            # its buffers as long as the client pleased.
            address = slow.getsockname()
            connections = server.server.server_state.connections
            while any(getattr(c, "client", None) == address for c in list(connections)):
                assert asyncio.get_running_loop().time() < deadline + 40, \
                    "the slow client's connection is still open"
                await asyncio.sleep(0.05)
            slow.close()
            await fast.close()
        finally:
            await api.close()


@pytest.fixture(scope="session")
def socketio_client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stock socket.io-client, installed from the npm registry into a temp dir."""
    npm = shutil.which("npm")
    node = shutil.which("node")
    if not npm or not node:
        pytest.fail("node and npm are needed for the Socket.IO client test")
    target = tmp_path_factory.mktemp("socketio-client")
    shutil.copy(NODE_DIR / "package.json", target / "package.json")
    shutil.copy(NODE_DIR / "chat_client.mjs", target / "chat_client.mjs")
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent"], cwd=target,
                   check=True, timeout=300, stdin=subprocess.DEVNULL)
    return target


async def test_stock_socketio_client_speaks_the_contract(api: Api,
                                                         socketio_client_dir: Path) -> None:
    owner, sid = await live_stream(api)
    proc = await asyncio.create_subprocess_exec(
        "node", "chat_client.mjs", api.http.base_url.__str__().rstrip("/"), sid, owner["token"],
        cwd=socketio_client_dir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    log = json.loads(out)
    viewer = log["viewer"]
    events = [f["event"] for f in viewer]
    for event in ("chat:history", "stream:status", "stream:viewers", "chat:user-joined",
                  "chat:message", "chat:typing", "chat:deleted", "chat:user-left"):
        assert event in events, (event, events)
    assert log["acks"]["viewerJoin"]["ok"] is True
    assert log["acks"]["anonymousSend"]["code"] == "unauthenticated"
    assert log["acks"]["send"]["ok"] is True
    assert log["acks"]["tooLong"]["code"] == "too_long"
    assert log["acks"]["afterEnd"]["code"] == "stream_offline"
    sent = next(f["data"] for f in viewer if f["event"] == "chat:message")
    assert sent["content"] == "hello from node" and sent["user"]["id"] == owner["id"]
    assert any(f["event"] == "chat:error" for f in log["sender"])


@pytest.mark.parametrize("mode", ["embedded", "production"])
async def test_frames_are_coalesced(mode: str, tmp_path: Path) -> None:
    """What reaches a room within a coalescing window goes out as one frame holding a JSON
    array; the first event after a quiet window goes at once, on its own."""
    window_s = 0.5  # long enough that sends fired together land inside one window
    # Every room paced at the whole window, whatever its size (a room of one listener is
    # otherwise paced to almost nothing: tests/unit/test_live_pacing.py).
    with serving(mode, tmp_path, **{**CHAT, "ws_coalesce_ms": window_s * 1000,
                                    "ws_room_writes_per_s": 0}) as live:
        api = Api(live.url, live.ws_url)
        owner, sid = await live_stream(api)
        ws = await chat_socket(api)
        try:
            await send_frame(ws, "chat:join", {"streamId": sid})
            await next_event(ws, "chat:history")
            await _quiet(ws, window_s * 1.5)  # let the window the join's pushes opened pass
            assert (await api.send(owner, sid, "c0")).status_code == 201
            assert await _next_messages(ws) == ["c0"]  # the first goes at once, alone
            sent = await asyncio.gather(*(api.send(owner, sid, f"c{i}") for i in range(1, 5)))
            assert all(r.status_code == 201 for r in sent)
            frames: list[list[str]] = []
            while sum(len(f) for f in frames) < 4:
                frames.append(await _next_messages(ws))
            assert sorted(c for f in frames for c in f) == [f"c{i}" for i in range(1, 5)]
            # Sent within the window "c0" opened, they share frames: fewer frames than
            # messages (one, unless the machine is slow enough to spill into the next).
            assert len(frames) < 4 and max(len(f) for f in frames) > 1, frames
        finally:
            await ws.close()
            await api.close()


async def _next_messages(ws: ClientConnection) -> list[str]:
    """The chat messages of the next WebSocket frame that carries any (a frame is one
    event or an array of them); frames without messages are skipped."""
    while True:
        payload = json.loads(await asyncio.wait_for(ws.recv(), 5))
        events = payload if isinstance(payload, list) else [payload]
        if messages := [e["data"]["content"] for e in events if e["event"] == "chat:message"]:
            return messages


async def _quiet(ws: ClientConnection, seconds: float) -> None:
    """Reads and drops frames until none has come for `seconds`."""
    while True:
        try:
            await asyncio.wait_for(ws.recv(), seconds)
        except TimeoutError:
            return


@pytest.mark.parametrize("account_check_ttl_s", [5.0, 0.0])
async def test_pipelined_sends_keep_their_order(tmp_path: Path,
                                                account_check_ttl_s: float) -> None:
    """A client may send without waiting; its messages are stored and pushed in order,
    also when each send's account check has to go to the store (ttl 0)."""
    with running(embedded_settings(tmp_path, chat_rate_limit="100 per 1 second",
                                   account_check_ttl_s=account_check_ttl_s)) as server:
        api = Api(server.url, server.ws_url)
        try:
            owner, sid = await live_stream(api)
            ws = await chat_socket(api, owner["token"])
            await send_frame(ws, "chat:join", {"streamId": sid})
            await next_event(ws, "chat:history")
            for i in range(40):
                await send_frame(ws, "chat:send", {"content": f"n{i}"})
            got = [(await next_event(ws, "chat:message"))["content"] for _ in range(40)]
            assert got == [f"n{i}" for i in range(40)]
            history = await api.http.get(f"/api/streams/{sid}/messages", params={"limit": 40})
            assert [m["content"] for m in reversed(history.json()["items"])] == got
            await ws.close()
        finally:
            await api.close()
