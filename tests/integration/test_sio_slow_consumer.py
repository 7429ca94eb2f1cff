"""A Socket.IO client on the websocket transport that stops reading is cut off like a
plain WebSocket one: its bounded queue overflows, it is disconnected and its connection
dropped, and the rest of the room gets everything, in order."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import socketio
from websockets.frames import Frame, Opcode

from tests.harness import embedded_settings, running
from tests.integration.client import Api, flood_room


def client_frame(text: str) -> bytes:
    """A masked text frame, as a client must send."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=True)


async def read_until(sock: socket.socket, marker: bytes, timeout: float = 10) -> None:
    """Reads (only as long as needed) until `marker` has arrived."""
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    seen = b""
    async with asyncio.timeout(timeout):
        while marker not in seen:
            chunk = await loop.sock_recv(sock, 4096)
            assert chunk, "connection closed during the handshake"
            seen += chunk


async def test_a_socketio_client_that_stops_reading_is_let_go(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path, ws_max_queue=10, ws_coalesce_ms=0.0,
                                 chat_rate_limit="none")
    with running(settings) as server:
        api = Api(server.url, server.ws_url)
        fast = socketio.AsyncClient()
        try:
            owner = await api.register()
            channel = await api.channel(owner)
            sid = (await api.go_live(owner, channel["id"]))["id"]
            litestar = server.app.litestar
            gateway = litestar.state.gateway

            slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            slow.connect(("127.0.0.1", server.port))
            slow.sendall(
                b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n")
            await read_until(slow, b'0{"sid"')  # the handshake, then Engine.IO's open packet
            slow.sendall(client_frame("40"))
            await read_until(slow, b'40{"sid"')  # Socket.IO's connect answer
            slow.sendall(client_frame(f'42["chat:join",{{"streamId":"{sid}"}}]'))

            got: list[str] = []
            done = asyncio.Event()
            total = 150

            @fast.on("chat:message")
            async def on_message(data: dict) -> None:
                got.append(data["id"])
                if len(got) == total:
                    done.set()

            await fast.connect(server.url, transports=["websocket"])
            await fast.call("chat:join", {"streamId": sid}, timeout=10)
            deadline = asyncio.get_running_loop().time() + 10
            while sum(1 for s in gateway.sessions if s.stream_id == sid) < 2:
                assert asyncio.get_running_loop().time() < deadline, "slow client never joined"
                await asyncio.sleep(0.02)

            await flood_room(litestar, sid, total)
            await asyncio.wait_for(done.wait(), 30)
            assert got == [str(i) for i in range(total)]
            while len(gateway.sessions) != 1:  # the slow one is let go
                assert asyncio.get_running_loop().time() < deadline + 30, "slow client kept"
                await asyncio.sleep(0.05)
            # Its connection ends: reading what was buffered reaches the end of the stream.
            loop = asyncio.get_running_loop()
            received = 0
            async with asyncio.timeout(30):
                while chunk := await loop.sock_recv(slow, 65536):
                    received += len(chunk)
            slow.close()
            assert received < total * 60_000
        finally:
            await fast.disconnect()
            await api.close()
