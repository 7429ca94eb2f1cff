"""A backing service away for a moment is answered "try again", not as our failure: while the
server cannot reach PostgreSQL, sending chat over HTTP answers 503 problem+json with
`Retry-After`, over a socket `chat:error unavailable` (with the acknowledgement saying so)
and the connection stays open; once the database answers again the same connection sends,
and nothing refused was stored. The outage is a TCP proxy between this server and
PostgreSQL, cut and reopened: the machine's PostgreSQL and other tests never notice."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from websockets.asyncio.client import connect

from tests.harness import DATABASE_URL, LiveServer, serving
from tests.integration.client import Api, assert_problem, next_event, next_frame
from tests.integration.tcp_proxy import TcpProxy

pytestmark = pytest.mark.services


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    target = urlsplit(DATABASE_URL)
    cut = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    yield cut
    cut.close()


@pytest.fixture
def server(tmp_path: Path, proxy: TcpProxy) -> Iterator[LiveServer]:
    # The server reaches PostgreSQL through the proxy; the test's own checks do not.
    through = urlunsplit(urlsplit(DATABASE_URL)._replace(netloc=(
        f"{urlsplit(DATABASE_URL).username or 'postgres'}@127.0.0.1:{proxy.port}")))
    with serving("production", tmp_path, chat_rate_limit="none", database_url=through) as live:
        yield live


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[Api]:
    client = Api(server.url, server.ws_url)
    yield client
    await client.close()


@contextlib.contextmanager
def database_away(proxy: TcpProxy) -> Iterator[None]:
    """Every connection of the server's to PostgreSQL drops and new ones are refused (its
    event store and its read models alike) until the block ends."""
    proxy.cut()
    try:
        yield
    finally:
        proxy.open()


async def test_chat_during_a_database_outage_is_told_to_try_again(
        server: LiveServer, api: Api, proxy: TcpProxy) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    stream_id = (await api.go_live(owner, channel["id"]))["id"]
    ws = await connect(f"{api.ws_url}/ws/streams/{stream_id}?token={owner['token']}")
    try:
        await next_event(ws, "chat:history")
        assert (await api.send(owner, stream_id, "before")).status_code == 201
        assert (await next_event(ws, "chat:message"))["content"] == "before"

        with database_away(proxy):
            r = await api.send(owner, stream_id, "refused over http")
            body = assert_problem(r, 503)
            assert body["type"] == "/problems/unavailable", body
            assert r.headers["retry-after"] == "1"
            await ws.send(json.dumps({"event": "chat:send",
                                      "data": {"content": "refused over the socket"}}))
            error = await next_event(ws, "chat:error", timeout=20)
            assert error["code"] == "unavailable", error

        # The same connection, still open and still in the room, sends once it can.
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            await ws.send(json.dumps({"event": "chat:send", "data": {"content": "after"}}))
            frame = await next_event_of(ws, ("chat:message", "chat:error"), timeout=10)
            if frame["event"] == "chat:message":
                assert frame["data"]["content"] == "after"
                break
            assert frame["data"]["code"] == "unavailable", frame
            assert asyncio.get_running_loop().time() < deadline, "the store stayed away"
            await asyncio.sleep(0.2)
        # The read models catch up once their projectors are back: until then the read
        # says 503 (try again), never an error of ours.
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            r = await api.http.get(f"/api/streams/{stream_id}/messages",
                                   params={"after": frame["data"]["position"]})
            if r.status_code == 200:
                break
            assert_problem(r, 503)
            assert asyncio.get_running_loop().time() < deadline, "the read models stayed behind"
            await asyncio.sleep(0.5)
        contents = {m["content"] for m in r.json()["items"]}
        assert {"before", "after"} <= contents
        assert not contents & {"refused over http", "refused over the socket"}
    finally:
        await ws.close()


async def next_event_of(ws: Any, events: tuple[str, ...], timeout: float) -> dict[str, Any]:
    """The next frame whose event is one of `events`, whole (`{event, data}`)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        frame = await next_frame(ws, max(deadline - asyncio.get_running_loop().time(), 0.01))
        if frame["event"] in events:
            return frame
