"""The plain WebSocket transport of the chat gateway.

`/ws/chat` speaks the contract: JSON frames `{"event": ..., "data": ...}` both ways (the
server may coalesce several into one frame holding a JSON array of them).
`/ws/streams/{id}` is the same, already joined to that stream.
Sign in with `?token=` or an `Authorization: Bearer` header; without one you may read.
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from domain.errors import DomainError
from infra.identity.auth import Principal
from infra.web.json_depth import too_deep
from infra.web.ws_direct import direct_writer
from read_api.chat_gateway import ChatGateway, ChatSession
from read_api.live import frame_text

SLOW_CONSUMER = 4008  # application close code: the client fell too far behind
UNAUTHENTICATED = 4401
_encode = msgspec.json.Encoder().encode


class Frame(msgspec.Struct):
    event: str
    data: Any = None


_decode_frame = msgspec.json.Decoder(Frame).decode


async def socket_principal(socket: WebSocket[Any, Any, Any]) -> Principal | None:
    token = socket.query_params.get("token")
    if not token:
        header = socket.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    if not token:
        return None
    services = socket.app.state.services
    authenticator = services.authenticator
    quick = getattr(authenticator, "quick", None)
    if quick is not None and (principal := quick(token)) is not None:
        return principal
    if quick is None and not getattr(authenticator, "blocking", True):
        return authenticator.authenticate(token)
    # External issuers may fetch keys, the account check may read the event store: not on
    # the event loop.
    return await services.run(authenticator.authenticate, token)


async def _pump(socket: WebSocket[Any, Any, Any], session: ChatSession) -> None:
    while True:
        batch = await session.next_batch()
        if batch is None:
            return
        if not batch:
            continue
        try:
            await socket.send_data(frame_text(batch), mode="text")
        finally:
            session.sent()


async def _drop_when_behind(socket: WebSocket[Any, Any, Any], session: ChatSession,
                            scope: anyio.CancelScope) -> None:
    """The pump may be stuck in a send to a client that stopped reading: this does not
    wait for it. The close frame gets a moment to go out; the connection is let go anyway,
    its unsent frames with it (a closing transport would otherwise keep them, and the
    socket, until the client read them all)."""
    await session.dropped.wait()
    scope.cancel()
    with anyio.CancelScope(shield=True), anyio.move_on_after(2):
        await socket.close(code=SLOW_CONSUMER, reason="slow consumer")
    if session.direct is not None:
        session.direct.abort()


# Close codes for a `/ws/streams/{id}` whose join was refused: no such stream, a service
# away for a moment (try again later, RFC 6455's 1013), anything else.
JOIN_REFUSED = {"not_found": (4404, "stream not found"),
                "unavailable": (1013, "try again later")}


async def _close_refused(socket: WebSocket[Any, Any, Any], session: ChatSession,
                         code: str) -> None:
    close_code, reason = JOIN_REFUSED.get(code, (1011, "join failed"))
    with anyio.move_on_after(2):
        while session.frames or session.sending:  # the chat:error goes out first
            await anyio.sleep(0.01)
        await socket.close(code=close_code, reason=reason)


async def _send(gateway: ChatGateway, session: ChatSession, data: Any) -> None:
    try:
        await gateway.handle(session, "chat:send", data)
    finally:
        session.in_flight.release()


async def serve_session(socket: WebSocket[Any, Any, Any], join: str | None) -> None:
    gateway: ChatGateway = socket.app.state.gateway
    try:
        principal = await socket_principal(socket)
    except DomainError as e:
        await socket.accept()
        await socket.send_json({"event": "chat:error",
                                "data": {"code": "unauthenticated", "message": e.message}})
        await socket.close(code=UNAUTHENTICATED, reason="invalid token")
        return
    await socket.accept()
    session = gateway.open(principal)
    session.direct = direct_writer(socket.scope)
    max_depth = socket.app.state.services.settings.json_max_depth
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_pump, socket, session)
            tg.start_soon(_drop_when_behind, socket, session, tg.cancel_scope)
            if join is not None:
                joined = await gateway.handle(session, "chat:join", {"streamId": join})
                if not joined.get("ok"):
                    # This connection exists to be in that room: the client hears why it
                    # is not (the `chat:error` already sent) and reconnects or gives up.
                    await _close_refused(socket, session, str(joined.get("code")))
                    tg.cancel_scope.cancel()
                    return
            while True:
                raw = await socket.receive_data(mode="text")
                if too_deep(raw, max_depth):  # before the decoder recurses into it
                    session.emit("chat:error", {
                        "code": "bad_frame",
                        "message": f"the frame nests more than {max_depth} levels deep"})
                    continue
                try:
                    frame = _decode_frame(raw)
                except msgspec.DecodeError:
                    if raw == "ping":
                        session.emit("pong", None)
                        continue
                    session.emit("chat:error", {"code": "bad_frame",
                                                "message": 'send {"event": ..., "data": ...}'})
                    continue
                if frame.event == "chat:send":
                    # Pipelined: the next frame is read while this one is committed.
                    await session.in_flight.acquire()
                    tg.start_soon(_send, gateway, session, frame.data)
                else:
                    await gateway.handle(session, frame.event, frame.data)
    except* WebSocketDisconnect:
        pass
    finally:
        await gateway.close(session)


@websocket("/ws/chat")
async def chat_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """The chat contract over a plain WebSocket."""
    await serve_session(socket, None)


@websocket("/ws/streams/{stream_id:str}")
async def stream_socket(socket: WebSocket[Any, Any, Any], stream_id: FromPath[str]) -> None:
    """The chat contract, joined to one stream from the start."""
    await serve_session(socket, stream_id)
