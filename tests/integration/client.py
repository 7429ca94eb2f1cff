"""A small client for the tests: what a web client does, over real HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import itertools
import json
import weakref
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from .contract import ContractCheck

_counter = itertools.count(1)


# uvicorn closes a keep-alive connection after 5 s idle, httpx keeps one for 5 s: a request
# sent on an idle connection just as the server closes it fails with ReadError. Drop idle
# connections well before the server does.
_LIMITS = httpx.Limits(keepalive_expiry=2.0)


class Api:
    def __init__(self, base_url: str, ws_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=20, limits=_LIMITS)
        # Every 2xx JSON answer must match the route's documented schema.
        self.http.event_hooks["response"].append(ContractCheck(self.http))
        self.ws_url = ws_url

    async def close(self) -> None:
        await self.http.aclose()

    async def register(self, name: str | None = None) -> dict[str, Any]:
        name = name or f"user{next(_counter)}"
        r = await self.http.post("/api/auth/register", json={
            "email": f"{name}@example.com", "username": name, "password": "correct horse",
            "displayName": name.title()})
        assert r.status_code == 201, r.text
        body = r.json()
        return {"id": body["user"]["id"], "token": body["token"], "username": name,
                "headers": {"Authorization": f"Bearer {body['token']}"},
                "position": body["position"]}

    async def channel(self, owner: dict[str, Any], slug: str | None = None) -> dict[str, Any]:
        slug = slug or f"chan-{next(_counter)}"
        r = await self.http.post("/api/channels", json={"slug": slug, "name": slug.title()},
                                 headers=owner["headers"])
        assert r.status_code == 201, r.text
        return r.json()

    async def go_live(self, owner: dict[str, Any], channel_id: str,
                      title: str = "Hello") -> dict[str, Any]:
        r = await self.http.post(f"/api/streams/{channel_id}/start", json={"title": title},
                                 headers=owner["headers"])
        assert r.status_code == 201, r.text
        return r.json()

    async def send(self, user: dict[str, Any], stream_id: str, content: str) -> httpx.Response:
        return await self.http.post(f"/api/streams/{stream_id}/messages",
                                    json={"content": content}, headers=user["headers"])

    async def subscribe(self, stream_id: str, token: str | None = None) -> ClientConnection:
        """A WebSocket joined to the stream (after its `chat:history` has arrived)."""
        query = f"?token={token}" if token else ""
        ws = await connect(f"{self.ws_url}/ws/streams/{stream_id}{query}")
        await next_event(ws, "chat:history")
        return ws


_pending: weakref.WeakKeyDictionary[ClientConnection, list[dict[str, Any]]] = \
    weakref.WeakKeyDictionary()


async def next_frame(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The next `{event, data}`, unpacking frames that coalesce several into an array."""
    queue = _pending.setdefault(ws, [])
    if not queue:
        payload = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        queue.extend(payload if isinstance(payload, list) else [payload])
    return queue.pop(0)


async def next_event(ws: ClientConnection, event: str, timeout: float = 5.0) -> Any:
    """The data of the next frame with this event name (others are skipped)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        frame = await next_frame(ws, max(remaining, 0.01))
        if frame["event"] == event:
            return frame["data"]


def assert_problem(r: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body


async def flood_room(litestar: Any, stream_id: str, total: int, size: int = 60_000) -> None:
    """Pushes `total` big chat messages into a room straight through the server's hub (on
    the server's loop): big frames fill a client's kernel buffers quickly."""
    from infra.messaging.bus import LiveUpdate

    blob = "z" * size
    for i in range(total):
        update = LiveUpdate(stream_id, "chat:message",
                            {"id": str(i), "position": 10**9 + i, "content": blob})
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
            litestar.state.hub.dispatch([update]), litestar.state.loop))
        if i % 20 == 0:
            await asyncio.sleep(0.01)
