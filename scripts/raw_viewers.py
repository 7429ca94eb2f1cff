"""Benchmark viewers as plain asyncio Protocols: thousands of WebSocket connections per core.

A viewer of the chat benchmarks only reads: it joins a room and counts what arrives. With a
big room the generator takes more frames per second than the server it measures sends in
any one place (1,000 viewers at 100 msg/s is 100,000 frames/s), so a client library's
per-frame coroutine step, queue hop and message object make the load generator the
bottleneck. Here every connection is an `asyncio.Protocol` (run it under uvloop): the
WebSocket upgrade is written by hand, and `data_received` parses every complete server frame
of a chunk in one loop and finds the message numbers with one compiled bytes regex, with no
coroutine, no copy of the payload and no JSON decoding per frame.

Two ways in, as scripts/bench_sio.py's viewers:

  "sio"  Engine.IO 4 / Socket.IO 5 over the websocket transport, spoken by hand: read the
         `0{...}` open packet, send `40`, read `40{...}`, send
         `421["chat:join",{"streamId":...}]`, read the ack `431[{"ok":true,...}]`. Engine.IO
         pings (`2`) get a `3`.
  "ws"   our plain `/ws/streams/{id}` (joined by the path; ready once `chat:history` came).
         A frame may be a JSON array of several events.

Every chat message's content is "m<i>": i is the message number, and message i was sent by
sender i % senders. Each viewer keeps, by message number: the receive time of the first copy
(one clock read per chunk: all frames of a chunk arrived together), delivered, doubled, out
of order (a message arriving after a later one from the same sender), position inversions
(arriving after a message with a higher position) and stray numbers; and whether the server
closed it early, with the close code. WebSocket pings get pongs, close frames an answer.

API, for a viewer process:

  room = await open_viewers(base, transport, stream, count, total=..., senders=...)
  room.set_deadline(deadline)        # stop counting there (time.monotonic(), as t0)
  ...                                # the loop runs the protocols; nothing to await
  cpu = time.process_time() - cpu0
  await room.close()
  print(json.dumps(room.summary(t0, rate, cpu_s=cpu)))

or all of it with bench_sio.py's own viewer-process contract: `await viewers_main(base,
transport, stream, count, senders, rate, total, drain)`.

Micro-benchmark (frames/s per core for these viewers against aiohttp ones, on the same
synthetic stream served by a separate process):

  .venv/bin/python scripts/raw_viewers.py --bench                    # 250 viewers x 200/s
  .venv/bin/python scripts/raw_viewers.py --bench --rate 0 --viewers 50 --frames 4000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import quote, urlsplit

Transport = Literal["sio", "ws"]
BUCKETS_PER_S = 10_000  # latency histogram resolution: 0.1 ms, as bench_sio.py's
# The message number, and the position of the same message. Both servers encode compactly
# and emit content, createdAt, position in that order (ours: id, streamId, channelId, userId,
# user, content, createdAt, position; the baseline: id, streamId, user, content, createdAt,
# position): the first alternative matches that exactly and costs a third of a lazy scan.
# The second is for any other field order; "no brace in between" keeps it inside the same
# message object, so an array frame's next message never lends its position.
MESSAGE = re.compile(rb'"content":"m(\d+)"(?:,"createdAt":"[^"]*")?'
                     rb'(?:,"position":(\d+)|[^{}]*"position":(\d+))?')
_SIO_CHAT = b'42["chat:message"'
_HISTORY = b'"event":"chat:history"'
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA
# Connection states: the handshake goes through the slow path, LIVE through the tight loop.
_HTTP, _OPEN, _CONNECT, _JOIN, _HISTORY_WAIT, _LIVE, _DONE = range(7)


def client_frame(opcode: int, payload: bytes = b"") -> bytes:
    """One masked frame, FIN set. Clients must mask (RFC 6455); servers close otherwise."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    if not n:
        return head + key
    # XOR as one big integer: no per-byte Python loop, and these frames are tiny anyway.
    mask = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
    return head + key + masked


def _accept(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


class JoinError(Exception):
    """The server refused the upgrade or the join, or closed the connection meanwhile."""


class RawViewer(asyncio.Protocol):
    """One viewer connection and its counters (read them once the run is over)."""

    def __init__(self, transport: Transport, host: str, path: str, stream: str, total: int,
                 senders: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.kind = transport
        self.total, self.senders, self.clock = total, max(1, senders), clock
        self.seen = bytearray(total)  # copies received per message number (saturates)
        self.times = array("d", bytes(8 * total))  # receive time of the first copy
        self.last = [-1] * self.senders  # the highest number seen per sender
        self.delivered = self.doubled = self.out_of_order = self.inversions = 0
        self.stray = 0  # numbers outside the schedule: should never happen
        self.top_position = 0
        self.pings = 0  # Engine.IO pings answered
        self.ws_pings = 0  # WebSocket pings answered
        self.closed_early = False  # the server closed (or lost) it before the deadline
        self.close_code: int | None = None
        self.deadline = math.inf
        self.joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._state = _HTTP
        self._closing = False
        self._key = base64.b64encode(os.urandom(16))
        self._request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key.decode()}\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        self._join = client_frame(_TEXT, b'421["chat:join",' + json.dumps(
            {"streamId": stream}, separators=(",", ":")).encode() + b"]")
        self._head = b""
        self._buf = bytearray()  # an incomplete frame carried over to the next chunk
        self._need = 0  # bytes the carried frame needs before it is worth parsing again
        self._transport: asyncio.Transport | None = None

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state == _LIVE and not self._closing and self.clock() <= self.deadline:
            self.closed_early = True
        self._state = _DONE
        self._fail_join(JoinError(f"connection lost while joining: {exc!r}"))
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._state == _HTTP:
            data = self._upgrade(data)
            if not data:
                return
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:
                return  # a big frame still coming: do not rescan it chunk after chunk
            data = bytes(buf)  # the regex then runs on an immutable copy the buffer can't move
            buf.clear()
        now = self.clock()
        counting = self._state == _LIVE and now <= self.deadline
        sio = self.kind == "sio"
        findall = MESSAGE.findall
        seen, times, last, total, senders = self.seen, self.times, self.last, self.total, \
            self.senders
        delivered, doubled, ooo, inv, top = (self.delivered, self.doubled, self.out_of_order,
                                             self.inversions, self.top_position)
        stray = self.stray
        n, pos, need = len(data), 0, 0
        while n - pos >= 2:
            b1 = data[pos + 1]
            length = b1 & 0x7F
            start = pos + 2
            if length >= 126:
                if length == 126:
                    if n - pos < 4:
                        break
                    length = (data[start] << 8) | data[start + 1]
                    start += 2
                else:
                    if n - pos < 10:
                        break
                    length = int.from_bytes(data[start:start + 8], "big")
                    start += 8
            if b1 & 0x80:  # a masked server frame breaks the protocol: no sense in guessing
                self._abort(JoinError("the server masked a frame"))
                return
            end = start + length
            if end > n:
                need = end - pos
                break
            opcode = data[pos] & 0x0F
            pos = end
            if opcode == _TEXT:
                if counting:
                    if sio:
                        if length == 1 and data[start] == 0x32:  # Engine.IO ping "2"
                            self._pong()
                            continue
                        if not data.startswith(_SIO_CHAT, start):
                            continue
                    for number, position, elsewhere in findall(data, start, end):
                        i = int(number)
                        if i >= total:
                            stray += 1
                            continue
                        if seen[i]:
                            doubled += 1  # a second copy: counted, not timed
                            if seen[i] < 255:
                                seen[i] += 1
                            continue
                        seen[i] = 1
                        times[i] = now
                        delivered += 1
                        s = i % senders
                        if i < last[s]:
                            ooo += 1
                        else:
                            last[s] = i
                        if position or elsewhere:
                            p = int(position or elsewhere)
                            if p < top:
                                inv += 1
                            else:
                                top = p
                else:
                    self._slow_text(data[start:end])
                    counting = self._state == _LIVE and now <= self.deadline
            elif opcode == _PING:
                self.ws_pings += 1
                self._write(client_frame(_PONG, data[start:end]))
            elif opcode == _CLOSE:
                self._closed_by_server(data[start:end], now)
                pos = n  # nothing after a close frame counts
                break
            # Binary, pong and continuation frames carry nothing a viewer counts.
        if pos < n:
            buf += memoryview(data)[pos:]
            self._need = need
        self.delivered, self.doubled, self.out_of_order, self.inversions = (delivered, doubled,
                                                                            ooo, inv)
        self.top_position, self.stray = top, stray

    # -- the slow path: handshake, rare frames ----------------------------------------

    def _upgrade(self, data: bytes) -> bytes:
        """Takes the 101 answer; returns what followed it (the server may send at once)."""
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > 65536:
                self._abort(JoinError("no end to the upgrade answer"))
            return b""
        head, rest = self._head[:end], self._head[end + 4:]
        self._head = b""
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1.1 101"):
            self._abort(JoinError(f"upgrade refused: {lines[0].decode(errors='replace')}"))
            return b""
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(b":") for line in lines[1:])}
        if headers.get(b"sec-websocket-accept") != _accept(self._key):
            self._abort(JoinError("wrong Sec-WebSocket-Accept"))
            return b""
        if headers.get(b"sec-websocket-extensions"):  # none asked for: frames are plain
            self._abort(JoinError("the server chose an extension nobody asked for"))
            return b""
        self._state = _OPEN if self.kind == "sio" else _HISTORY_WAIT
        return rest

    def _slow_text(self, text: bytes) -> None:
        """A text frame outside the counting loop: the handshake, or after the deadline."""
        state = self._state
        if self.kind == "sio" and text == b"2":
            self._pong()
        elif state == _OPEN:
            if not text.startswith(b"0{"):
                self._abort(JoinError(f"expected the Engine.IO open packet: {text[:80]!r}"))
                return
            self._write(client_frame(_TEXT, b"40"))  # anonymous: viewers read unsigned
            self._state = _CONNECT
        elif state == _CONNECT:
            if not text.startswith(b"40"):
                self._abort(JoinError(f"Socket.IO connect refused: {text[:200]!r}"))
                return
            self._write(self._join)
            self._state = _JOIN
        elif state == _JOIN:
            if text.startswith(b"431"):
                if b'"ok":true' not in text:
                    self._abort(JoinError(f"join refused: {text[:200]!r}"))
                    return
                self._live()
        elif state == _HISTORY_WAIT and _HISTORY in text:
            self._live()  # the history itself is never counted: it predates the run

    def _live(self) -> None:
        self._state = _LIVE
        if not self.joined.done():
            self.joined.set_result(None)

    def _pong(self) -> None:
        self.pings += 1
        self._write(client_frame(_TEXT, b"3"))

    def _closed_by_server(self, payload: bytes, now: float) -> None:
        self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        if not self._closing:
            if self._state == _LIVE and now <= self.deadline:
                self.closed_early = True
            self._closing = True
            self._write(client_frame(_CLOSE, payload[:2]))  # the closing handshake's answer
        self._fail_join(JoinError(f"closed while joining: {self.close_code}"))
        if self._transport is not None:
            self._transport.close()

    def _write(self, frame: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(frame)

    def _fail_join(self, exc: Exception) -> None:
        if not self.joined.done():
            self.joined.set_exception(exc)
            self.joined.exception()  # retrieved here, so a timed-out join does not warn

    def _abort(self, exc: Exception) -> None:
        self._fail_join(exc)
        self.abort()

    # -- for the owner -----------------------------------------------------------------

    def abort(self) -> None:
        """Drops the connection at once (a failed join)."""
        self._closing = True
        if self._transport is not None:
            self._transport.abort()

    async def close(self, timeout: float = 5.0) -> None:
        """The closing handshake: close frame 1000, then wait for the server's answer."""
        if self._transport is None or self.lost.done():
            return
        if not self._closing:
            self._closing = True
            self._write(client_frame(_CLOSE, (1000).to_bytes(2, "big")))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.lost), timeout)
        if not self.lost.done():
            self._transport.abort()

    @property
    def received(self) -> int:
        """Message numbers seen at least once."""
        return self.delivered


def viewer_url(base: str, transport: Transport, stream: str) -> tuple[str, int, str]:
    """(host, port, path) of a viewer connection to a server at `base` (http://host:port)."""
    url = urlsplit(base)
    host = url.hostname or "127.0.0.1"
    port = url.port or (443 if url.scheme in ("https", "wss") else 80)
    path = ("/socket.io/?EIO=4&transport=websocket" if transport == "sio"
            else f"/ws/streams/{quote(stream, safe='')}")
    return host, port, path


@dataclass
class Room:
    """The viewers of one process: None where a viewer could not join (its deliveries all
    count as lost)."""

    viewers: list[RawViewer | None]
    total: int
    join_retries: int = 0
    errors: list[str] = field(default_factory=list)

    def set_deadline(self, deadline: float) -> None:
        """Nothing arriving after `deadline` (on the viewers' clock) is counted, and a
        close after it is not early."""
        for v in self.viewers:
            if v is not None:
                v.deadline = deadline

    async def close(self, batch: int = 25, timeout: float = 5.0) -> None:
        """Closing handshakes, `batch` at a time: a room leaving in one burst would measure
        the server's disconnect storm."""
        gate = asyncio.Semaphore(batch)

        async def one(v: RawViewer) -> None:
            async with gate:
                await v.close(timeout)

        await asyncio.gather(*(one(v) for v in self.viewers if v is not None))

    def summary(self, t0: float, rate: float, cpu_s: float = 0.0) -> dict[str, Any]:
        """bench_sio.py's viewer-process summary: counts, and a latency histogram of every
        first delivery against its due time t0 + i/rate (buckets of 1/BUCKETS_PER_S s)."""
        joined = [v for v in self.viewers if v is not None]
        due = [t0 + i / rate for i in range(self.total)]
        hist: Counter[int] = Counter()
        worst = 0.0
        for v in joined:
            latencies = [t - d for t, d, c in zip(v.times, due, v.seen, strict=True) if c]
            if latencies:
                worst = max(worst, max(latencies))
                hist.update(int(x * BUCKETS_PER_S) for x in latencies)
        unjoined = len(self.viewers) - len(joined)
        codes = Counter(v.close_code for v in joined if v.closed_early)
        return {
            "viewers": len(self.viewers), "delivered": sum(v.delivered for v in joined),
            "fewest": min((v.delivered for v in joined), default=0) if not unjoined else 0,
            "lost": sum(v.seen.count(0) for v in joined) + unjoined * self.total,
            "doubled": sum(v.doubled for v in joined),
            "out_of_order": sum(v.out_of_order for v in joined),
            "inversions": sum(v.inversions for v in joined),
            "stray": sum(v.stray for v in joined),
            "dropped": sum(v.closed_early for v in joined),
            "close_codes": {str(k): n for k, n in codes.items()},
            "unjoined": unjoined, "join_retries": self.join_retries,
            "max_s": worst, "hist": hist, "cpu_s": cpu_s}


async def open_viewers(base: str, transport: Transport, stream: str, count: int, *,
                       total: int, senders: int, batch: int = 25, tries: int = 3,
                       timeout: float = 30.0, clock: Callable[[], float] = time.monotonic,
                       say: Callable[[str], None] | None = None) -> Room:
    """`count` joined viewers of `stream` on the server at `base` (http://host:port), at
    most `batch` connecting at a time, each tried up to `tries` times. `total` is the
    number of messages of the run (m0 .. m<total-1>), `senders` how many send them."""
    host, port, path = viewer_url(base, transport, stream)
    host_header = f"{host}:{port}"
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(batch)
    room = Room([], total)
    report = say or (lambda s: print(s, file=sys.stderr, flush=True))

    async def one() -> RawViewer | None:
        for attempt in range(tries):
            viewer: RawViewer | None = None
            try:
                async with gate, asyncio.timeout(timeout):
                    _, viewer = await loop.create_connection(
                        lambda: RawViewer(transport, host_header, path, stream, total,
                                          senders, clock), host, port)
                    await viewer.joined
                return viewer
            except Exception as e:  # refused, closed or timed out while joining
                if viewer is not None:
                    viewer.abort()
                room.join_retries += 1
                room.errors.append(repr(e))
                report(f"raw_viewers: a viewer could not join (try {attempt + 1}): {e!r}")
                await asyncio.sleep(0.5 * (attempt + 1))
        return None

    room.viewers = list(await asyncio.gather(*(one() for _ in range(count))))
    return room


async def viewers_main(base: str, transport: str, stream: str, count: int, senders: int,
                       rate: float, total: int, drain: float) -> None:
    """bench_sio.py's viewer process: connects `count` viewers, prints "ready", reads t0
    (time.monotonic()) from stdin, counts until t0 + (total-1)/rate + drain, then prints
    one JSON summary line."""
    assert transport in ("sio", "ws"), transport
    room = await open_viewers(base, transport, stream, count, total=total,  # type: ignore[arg-type]
                              senders=senders)
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    t0 = float(line)
    deadline = t0 + (total - 1) / rate + drain
    room.set_deadline(deadline)
    cpu0 = time.process_time()
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    cpu = time.process_time() - cpu0
    await room.close()
    print(json.dumps(room.summary(t0, rate, cpu_s=cpu)), flush=True)


# -- micro-benchmark: a synthetic stream, served from a process of its own ---------------


def chat_message(i: int, position: int, pad: int = 0) -> dict[str, Any]:
    """A chat message as our server sends it (field order included); `pad` lengthens the
    display name."""
    return {"id": f"00000000-0000-4000-8000-{i:012d}", "streamId": "s1", "channelId": "c1",
            "userId": "u1", "user": {"id": "u1", "username": "viewer", "displayName":
                                     "Viewer" + "x" * pad, "badges": []},
            "content": f"m{i}", "createdAt": "2025-01-01T00:00:00.000000+00:00",
            "position": position}


def server_frame(payload: bytes, opcode: int = _TEXT) -> bytes:
    """An unmasked frame, FIN set, as a server sends it."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


def message_text(transport: Transport, messages: Sequence[dict[str, Any]]) -> bytes:
    """One frame's text: `42["chat:message",{...}]`, or a /ws event (an array of several)."""
    dump = json.dumps
    if transport == "sio":
        assert len(messages) == 1
        return ('42["chat:message",' + dump(messages[0], separators=(",", ":")) + "]").encode()
    events = [{"event": "chat:message", "data": m} for m in messages]
    one = events[0] if len(events) == 1 else events
    return dump(one, separators=(",", ":")).encode()


async def read_client_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(opcode, unmasked payload) of a client frame; asserts the client masked it."""
    b0, b1 = await reader.readexactly(2)
    assert b1 & 0x80, "client frames must be masked"
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    key = await reader.readexactly(4)
    body = await reader.readexactly(n)
    return b0 & 0x0F, bytes(b ^ key[k % 4] for k, b in enumerate(body))


async def server_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           transport: Transport) -> bytes:
    """A scripted server's side of the upgrade and join; returns the request head."""
    head = await reader.readuntil(b"\r\n\r\n")
    key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + _accept(key) + b"\r\n\r\n")
    if transport == "sio":
        writer.write(server_frame(b'0{"sid":"e1","upgrades":[],"pingInterval":25000,'
                                  b'"pingTimeout":20000,"maxPayload":1000000}'))
        assert await read_client_frame(reader) == (_TEXT, b"40")
        writer.write(server_frame(b'40{"sid":"s1"}'))
        opcode, join = await read_client_frame(reader)
        assert opcode == _TEXT and join.startswith(b'421["chat:join",{"streamId":'), join
        writer.write(server_frame(b'431[{"ok":true,"streamId":"s1"}]'))
    else:
        writer.write(server_frame(b'{"event":"chat:history","data":[]}'))
    await writer.drain()
    return head


async def _synthetic_server(transport: Transport, viewers: int, frames: int,
                            rate: float) -> None:
    """Serves `frames` chat messages to each of `viewers` connections once all joined,
    then closes them; prints its port, then runs until stdin closes. `rate` > 0: message
    k goes to every connection at k/rate s, so a viewer reads about one frame per chunk,
    as in a benchmark room; 0: all of it at once in 64 KiB writes (many frames a chunk)."""
    texts = [server_frame(message_text(transport, [chat_message(i, i + 1)]))
             for i in range(frames)]
    close = server_frame((1000).to_bytes(2, "big"), _CLOSE)
    joined: list[asyncio.StreamWriter] = []
    all_in = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await server_handshake(reader, writer, transport)
        except (OSError, asyncio.IncompleteReadError):
            writer.close()  # a client that gave up: it will retry on a new connection
            return
        joined.append(writer)
        if len(joined) == viewers:
            all_in.set()
        await all_in.wait()
        if not rate:
            blob = memoryview(b"".join(texts) + close)
            for k in range(0, len(blob), 65536):  # chunks, as a busy server's writes arrive
                writer.write(blob[k:k + 65536])
                await writer.drain()
        with contextlib.suppress(Exception):
            await reader.read()  # until the client closes
        writer.close()

    async def paced() -> None:
        await all_in.wait()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for k, frame in enumerate(texts):
            delay = t0 + k / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for w in joined:
                w.write(frame)
        for w in joined:
            w.write(close)

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    pacer = asyncio.ensure_future(paced()) if rate else None
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    if pacer is not None:
        pacer.cancel()


async def _aiohttp_viewers(base: str, transport: Transport, count: int, total: int) -> int:
    """bench_sio.py's present viewers, frame by frame through aiohttp; returns deliveries."""
    import aiohttp

    find = re.compile(r'"content":"m(\d+)"(?:[^{}]*?"position":(\d+))?').finditer
    url = base.replace("http", "ws", 1) + (
        "/socket.io/?EIO=4&transport=websocket" if transport == "sio" else "/ws/streams/s1")
    hist: Counter[int] = Counter()
    t0, rate = time.monotonic(), 1000.0
    counts = [0]

    async def watch(ws: aiohttp.ClientWebSocketResponse) -> None:
        seen, last, top = bytearray(total), [-1], 0
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                return
            text: str = msg.data
            if transport == "sio":
                if text == "2":
                    await ws.send_str("3")
                    continue
                if not text.startswith('42["chat:message"'):
                    continue
            elif '"content":"m' not in text or '"event":"chat:history"' in text:
                continue
            now = time.monotonic()
            for m in find(text):
                i = int(m[1])
                if seen[i]:
                    continue
                seen[i] = 1
                counts[0] += 1
                hist[int((now - (t0 + i / rate)) * BUCKETS_PER_S)] += 1
                if i < last[0]:
                    pass
                else:
                    last[0] = i
                if m[2] is not None and int(m[2]) >= top:
                    top = int(m[2])

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = []
        for _ in range(count):
            ws = await session.ws_connect(url, autoping=True, compress=0, max_msg_size=0)
            if transport == "sio":
                assert (await ws.receive_str()).startswith("0{")
                await ws.send_str("40")
                assert (await ws.receive_str()).startswith("40")
                await ws.send_str('421["chat:join",{"streamId":"s1"}]')
                assert (await ws.receive_str()).startswith("431")
            else:
                assert '"chat:history"' in await ws.receive_str()
            sockets.append(ws)
        await asyncio.gather(*(watch(ws) for ws in sockets))
        for ws in sockets:
            await ws.close()
    return counts[0]


async def _raw_viewers(base: str, transport: Transport, count: int, total: int) -> int:
    room = await open_viewers(base, transport, "s1", count, total=total, senders=1)
    await asyncio.gather(*(v.lost for v in room.viewers if v is not None))
    room.summary(time.monotonic(), 1000.0)  # its histogram is part of the cost
    return sum(v.delivered for v in room.viewers if v is not None)


def bench(transport: Transport, viewers: int, frames: int, rate: float, impl: str
          ) -> dict[str, Any]:
    """Frames/s per core of one viewer implementation in this process, against a synthetic
    server in another (its CPU is not counted)."""
    import uvloop

    server = subprocess.Popen([sys.executable, __file__, "--synthetic-server", transport,
                               str(viewers), str(frames), repr(rate)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{int(server.stdout.readline())}"
        run = _raw_viewers if impl == "raw" else _aiohttp_viewers
        cpu0, wall0 = time.process_time(), time.perf_counter()
        delivered = uvloop.run(run(base, transport, viewers, frames))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        server.kill()
        server.wait()
    assert delivered == viewers * frames, (delivered, viewers * frames)
    return {"impl": impl, "transport": transport, "viewers": viewers, "rate": rate,
            "frames": delivered, "cpu_s": cpu,
            "wall_s": wall, "frames_per_cpu_s": delivered / cpu if cpu else 0.0}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--synthetic-server":
        import uvloop

        kind, viewers, frames, rate = sys.argv[2:6]
        uvloop.run(_synthetic_server(kind, int(viewers), int(frames),  # type: ignore[arg-type]
                                     float(rate)))
        return
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", action="store_true", help="run the micro-benchmark")
    p.add_argument("--viewers", type=int, default=250)
    p.add_argument("--frames", type=int, default=800, help="frames per viewer")
    p.add_argument("--rate", type=float, default=200,
                   help="messages/s to every viewer (0: as fast as possible, many per chunk)")
    p.add_argument("--transport", choices=["sio", "ws", "both"], default="both")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if not args.bench:
        p.print_help()
        return
    results = []
    for transport in (["sio", "ws"] if args.transport == "both" else [args.transport]):
        for impl in ("raw", "aiohttp"):
            r = bench(transport, args.viewers, args.frames, args.rate, impl)
            results.append(r)
            if not args.json:
                print(f"{impl:8} {transport:3}  {args.viewers} viewers x {args.rate:g}/s  "
                      f"{r['frames']:>9,} frames  "
                      f"{r['cpu_s']:6.2f} cpu s  {r['frames_per_cpu_s']:>10,.0f} frames/s per "
                      "core", flush=True)
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
