"""The fan-out's direct writes under a real uvicorn: plain WebSocket viewers get the
room's pre-encoded frames straight on their connection, in order, after their history;
a connection that negotiated permessage-deflate gets them through ASGI instead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from entrypoints.bootstrap import Services
from infra.web.ws_direct import text_frame
from tests.harness import LiveServer, embedded_settings
from tests.integration.client import Api, next_event

CHAT = {"ws_coalesce_ms": 5.0, "chat_rate_limit": "none"}


class Tap:
    """Wraps a session's direct writer and keeps what it wrote to the connection."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.written: list[bytes] = []

    def write(self, frame: bytes) -> bool:
        wrote = bool(self.inner.write(frame))
        if wrote:
            self.written.append(frame)
        return wrote

    def messages(self) -> list[str]:
        """Contents of the chat messages in the frames written (each frame one event or
        an array of them)."""
        out = []
        for frame in self.written:
            assert frame[0] == 0x81, frame[:2]  # one whole, unmasked text frame
            size = frame[1] & 0x7F
            start = 2 if size < 126 else 4 if size == 126 else 10
            payload = json.loads(frame[start:])
            events = payload if isinstance(payload, list) else [payload]
            out += [e["data"]["content"] for e in events if e["event"] == "chat:message"]
        return out


@contextmanager
def server(tmp_path: Path, *, deflate: bool) -> Iterator[LiveServer]:
    services = Services(embedded_settings(tmp_path, **CHAT))
    live = LiveServer(services)
    live.config.ws_per_message_deflate = deflate
    live.start()
    try:
        yield live
    finally:
        live.stop()
        services.close()


async def scenario(live: LiveServer, *, compression: str | None) -> list[str]:
    """History, then 40 live messages; returns the contents as the viewer saw them."""
    api = Api(live.url, live.ws_url)
    try:
        owner = await api.register()
        channel = await api.channel(owner)
        sid = (await api.go_live(owner, channel["id"]))["id"]
        for i in range(3):
            assert (await api.send(owner, sid, f"before {i}")).status_code == 201
        async with connect(f"{live.ws_url}/ws/streams/{sid}", compression=compression) as ws:
            history = await next_event(ws, "chat:history")
            seen = [m["content"] for m in history]
            gateway = live.app.litestar.state.gateway
            sessions = [s for s in gateway.sessions if s.stream_id == sid]
            assert len(sessions) == 1
            direct = sessions[0].direct
            assert direct is not None  # uvicorn's sans-I/O protocol: the direct path exists
            tap = sessions[0].direct = Tap(direct)
            for i in range(40):
                assert (await api.send(owner, sid, f"live {i}")).status_code == 201
            while len(seen) < 43:
                seen.append((await next_event(ws, "chat:message"))["content"])
            live_messages = [f"live {i}" for i in range(40)]
            if compression:  # nothing went around ASGI
                assert tap.messages() == []
            else:  # every live message went straight to the connection, in order
                assert tap.messages() == live_messages
            if compression:  # negotiated deflate: the writer declines, ASGI sends instead
                assert direct.write(text_frame('{"event":"x","data":null}')) is False
            else:
                assert direct.write(text_frame('{"event":"probe","data":1}')) is True
                assert await next_event(ws, "probe") == 1
        return seen
    finally:
        await api.close()


EXPECTED = [f"before {i}" for i in range(3)] + [f"live {i}" for i in range(40)]


async def test_viewers_get_frames_directly_in_order_after_history(tmp_path: Path) -> None:
    with server(tmp_path, deflate=False) as live:
        assert await scenario(live, compression=None) == EXPECTED


async def test_a_compressed_connection_falls_back_to_asgi_sends(tmp_path: Path) -> None:
    with server(tmp_path, deflate=True) as live:
        assert await scenario(live, compression="deflate") == EXPECTED
