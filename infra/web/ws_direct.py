"""Direct WebSocket writes for the chat fan-out, under uvicorn's sans-I/O protocol.

A room's update goes to every viewer as the same bytes: server frames are not masked, so
one encoded frame serves a thousand connections. ASGI has no way to say that (each
`websocket.send` re-frames the text and passes through every middleware), so for
connections served by uvicorn's `websockets-sansio` protocol the fan-out writes the
encoded frame to the connection's transport itself, and falls back to ASGI `send`
whenever that is not plainly safe: before the handshake completes or after a close, when
the transport is paused for back-pressure (the slow-consumer path then takes over), or
when the connection negotiated an extension such as permessage-deflate.

`capture_send` (outermost ASGI layer) keeps the server's own `send` in the scope;
`direct_writer(scope)` returns a writer for it, or None for any other server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State

SCOPE_KEY = "aethex.server_send"

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]

try:  # uvicorn's sans-I/O implementation; absent under another server
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - uvicorn is a dependency
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]


def text_frame(text: str) -> bytes:
    """One unmasked, unfragmented text frame (what a server sends)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class DirectWriter:
    """Writes whole pre-encoded frames to one connection's transport, when it is safe."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def write(self, frame: bytes) -> bool:
        """True if the frame went out; False means: use the ordinary ASGI send instead."""
        p = self._protocol
        if (p.close_sent or p.disconnected or not p.handshake_complete
                or p.initial_response is not None or not p.writable.is_set()
                or p.conn.state is not State.OPEN or p.conn.extensions):
            return False
        transport = p.transport
        if transport is None or transport.is_closing():
            return False
        transport.write(frame)
        return True

    def abort(self) -> None:
        """Drops the connection at once: for a client that stopped reading, whose pending
        writes (a close frame included) would wait for it forever."""
        transport = self._protocol.transport
        if transport is not None and not transport.is_closing():
            transport.abort()


def capture_send(app: ASGIApp) -> ASGIApp:
    """Outermost ASGI layer: remembers the server's `send` of each WebSocket connection."""

    async def wrapper(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope[SCOPE_KEY] = send
        await app(scope, receive, send)

    return wrapper


def direct_writer(scope: MutableMapping[str, Any]) -> DirectWriter | None:
    send = scope.get(SCOPE_KEY)
    protocol = getattr(send, "__self__", None)
    if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    return DirectWriter(protocol)
