"""The benchmarks' raw viewers (scripts/raw_viewers.py) count what they say they count.

A scripted server sends crafted frames on purpose: a copy of a message, a lost one, one
out of order, position inversions, a stray number, frames split across TCP chunks (inside
the header too), 16- and 64-bit lengths, an Engine.IO ping and a WebSocket ping (both must
be answered, masked), other events, and a close code. Then the real app (embedded) serves
both transports to raw viewers, so the field order the regex relies on is the one our server
really emits. Speed is not checked here: `scripts/raw_viewers.py --bench` prints it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.raw_viewers import (
    RawViewer,
    Room,
    chat_message,
    message_text,
    open_viewers,
    read_client_frame,
    server_frame,
    server_handshake,
)
from tests.harness import embedded_settings, running
from tests.integration.client import Api

ROOT = Path(__file__).resolve().parents[2]
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _sio(i: int, position: int, pad: int = 0) -> bytes:
    return server_frame(message_text("sio", [chat_message(i, position, pad)]))


async def _scripted(transport: str, script: Script, count: int = 1, total: int = 10,
                    senders: int = 2) -> tuple[Room, list[Any]]:
    """Runs `script` on every connection of `count` raw viewers; returns the room once the
    server has closed them all, and what each script returned."""
    done: list[Any] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await server_handshake(reader, writer, transport)  # type: ignore[arg-type]
        assert head.startswith(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1" if
                               transport == "sio" else b"GET /ws/streams/s1 HTTP/1.1"), head
        done.append(await script(reader, writer))
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        room = await open_viewers(f"http://127.0.0.1:{port}", transport, "s1",  # type: ignore[arg-type]
                                  count, total=total, senders=senders, timeout=5)
        await asyncio.wait_for(asyncio.gather(*(v.lost for v in room.viewers if v)), 10)
    finally:
        server.close()
    return room, done


async def test_socketio_frames_counted_one_by_one() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        writer.write(_sio(0, 1) + _sio(1, 2))  # two frames in one chunk
        await writer.drain()
        split = _sio(2, 3)
        for part in (split[:1], split[1:40], split[40:]):  # cut inside the header, then body
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write(_sio(1, 2))  # a second copy
        # m3 never comes (lost); m6 then m4: m4 is out of order for sender 0 and both m4
        # and m5 arrive after a higher position.
        writer.write(_sio(6, 7) + _sio(4, 5) + _sio(5, 6))
        writer.write(server_frame(b'42["stream:viewers",{"streamId":"s1","count":3}]'))
        writer.write(server_frame(b"2"))  # Engine.IO ping
        await writer.drain()
        pong = await read_client_frame(reader)
        writer.write(server_frame(b"hello", 0x9))  # WebSocket ping
        await writer.drain()
        ws_pong = await read_client_frame(reader)
        big16, big64 = _sio(7, 8, pad=300), _sio(8, 9, pad=70_000)
        assert big16[1] == 126 and big64[1] == 127  # 16- and 64-bit lengths
        writer.write(big16[:200])
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(big16[200:] + big64[:30_000])
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(big64[30_000:] + _sio(12, 13))  # m12 is outside the schedule
        writer.write(server_frame((4008).to_bytes(2, "big") + b"slow consumer", 0x8))
        await writer.drain()
        close = await read_client_frame(reader)
        return pong, ws_pong, close

    room, [(pong, ws_pong, close)] = await _scripted("sio", script)
    assert pong == (0x1, b"3") and ws_pong == (0xA, b"hello") and close[0] == 0x8
    assert close[1] == (4008).to_bytes(2, "big")  # the close answered with its code
    v = room.viewers[0]
    assert v is not None
    assert (v.delivered, v.doubled, v.out_of_order, v.inversions, v.stray) == (8, 1, 1, 2, 1)
    assert (v.pings, v.ws_pings, v.closed_early, v.close_code) == (1, 1, True, 4008)
    assert list(v.seen) == [1, 2, 1, 0, 1, 1, 1, 1, 1, 0]
    assert all(t > 0 for t, c in zip(v.times, v.seen, strict=True) if c)
    t0 = v.times[0]
    s = room.summary(t0, 1000.0, cpu_s=0.5)
    assert (s["viewers"], s["delivered"], s["fewest"], s["lost"], s["doubled"]) == (1, 8, 8, 2, 1)
    assert (s["out_of_order"], s["inversions"], s["stray"], s["dropped"]) == (1, 2, 1, 1)
    assert (s["unjoined"], s["close_codes"], s["cpu_s"]) == (0, {"4008": 1}, 0.5)
    assert sum(s["hist"].values()) == 8 and s["max_s"] >= 0
    json.dumps(s)  # one line on stdout, as bench_sio.py's viewer processes print


async def test_plain_websocket_arrays_and_history() -> None:
    def event(*messages: dict[str, Any]) -> bytes:
        return server_frame(message_text("ws", list(messages)))

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        # server_handshake sent an empty history; the viewer is already counting.
        writer.write(event(chat_message(0, 1)) + event(chat_message(1, 2), chat_message(2, 3),
                                                       chat_message(1, 2)))
        writer.write(server_frame(b'{"event":"stream:viewers","data":{"count":2}}'))
        frame = event(*(chat_message(i, i + 1) for i in (4, 6, 5)))
        assert frame[1] == 126
        writer.write(frame[:3])  # cut inside the 16-bit length
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(frame[3:] + server_frame(b"", 0x9))
        await writer.drain()
        ws_pong = await read_client_frame(reader)
        writer.write(server_frame(b"2"))  # not Engine.IO: ignored, not answered
        writer.write(server_frame(b"", 0x8))  # close without a code
        await writer.drain()
        return ws_pong, await read_client_frame(reader)

    room, [(ws_pong, close)] = await _scripted("ws", script, total=8, senders=1)
    assert ws_pong == (0xA, b"") and close == (0x8, b"")
    v = room.viewers[0]
    assert v is not None
    # m3 and m7 lost, m1 doubled inside one array frame, m5 after m6 (one sender).
    assert list(v.seen) == [1, 2, 1, 0, 1, 1, 1, 0]
    assert (v.delivered, v.doubled, v.out_of_order, v.inversions) == (6, 1, 1, 1)
    assert (v.pings, v.ws_pings, v.close_code, v.closed_early) == (0, 1, 1005, True)


async def test_refused_joins_are_retried_then_counted_as_lost() -> None:
    tries = [0]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        tries[0] += 1
        if tries[0] == 1:
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        writer.close()  # the second try: closed before any answer

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    errors: list[str] = []
    try:
        room = await open_viewers(f"http://127.0.0.1:{port}", "ws", "s1", 1, total=4,
                                  senders=1, tries=2, timeout=5, say=errors.append)
    finally:
        server.close()
    assert room.viewers == [None] and room.join_retries == 2 and tries[0] == 2
    assert "503" in errors[0] and "lost" in errors[1], errors
    s = room.summary(0.0, 10.0)
    assert (s["unjoined"], s["lost"], s["fewest"], s["delivered"]) == (1, 4, 0, 0)


async def _until(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_real_server_both_transports(tmp_path: Path) -> None:
    with running(embedded_settings(tmp_path, chat_rate_limit="1000 per 1 second")) as server:
        api = Api(server.url, server.ws_url)
        try:
            owner = await api.register()
            channel = await api.channel(owner)
            stream = (await api.go_live(owner, channel["id"]))["id"]
            # Something already said: the joins' history holds it, and it is not counted.
            assert (await api.send(owner, stream, "m0")).status_code == 201
            total = 12
            rooms = {t: await open_viewers(server.url, t, stream, 3, total=total, senders=1,
                                           timeout=10) for t in ("sio", "ws")}
            for room in rooms.values():
                room.set_deadline(time.monotonic() + 60)
            for i in range(1, total):
                assert (await api.send(owner, stream, f"m{i}")).status_code == 201
            viewers = [v for room in rooms.values() for v in room.viewers]
            assert all(isinstance(v, RawViewer) for v in viewers)
            await _until(lambda: all(v is not None and v.delivered == total - 1
                                     for v in viewers))
            await asyncio.sleep(0.2)  # time for a copy to arrive, were one on its way
            for transport, room in rooms.items():
                for v in room.viewers:
                    assert v is not None
                    assert list(v.seen) == [0] + [1] * (total - 1), transport
                    assert (v.doubled, v.out_of_order, v.inversions, v.stray) == (0, 0, 0, 0)
                    assert v.top_position > 0, transport  # positions are read
                    assert not v.closed_early
                await room.close()
                assert all(v is not None and v.lost.done() for v in room.viewers)
                assert not any(v is not None and v.closed_early for v in room.viewers)
        finally:
            await api.close()


@pytest.mark.parametrize("rate", ["0", "200"])
def test_micro_benchmark_runs(rate: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "raw_viewers.py"), "--bench", "--viewers",
         "4", "--frames", "200", "--rate", rate, "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    assert {(r["impl"], r["transport"]) for r in results} == {
        (i, t) for i in ("raw", "aiohttp") for t in ("sio", "ws")}
    assert all(r["frames"] == 800 and r["frames_per_cpu_s"] > 0 for r in results)
