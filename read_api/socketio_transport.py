"""The Socket.IO transport of the chat gateway (python-socketio, ASGI, mounted beside
Litestar at /socket.io/), so the stock `socket.io-client` works unchanged.

Sign in with `io(url, {auth: {token}})` or `?token=`; events are the contract's names;
client events may take an acknowledgement callback, answered with `{ok, ...}`.

What the rooms push does not go through `emit` (which encodes every packet again for
every connection and queues it behind an Engine.IO writer task): each update's Socket.IO
packet is encoded once per room (`Outgoing.sio_frames`) and, on the websocket transport
under uvicorn, written straight to each connection, as `/ws` does. Long-polling clients,
and connections under back-pressure, get the same packets through Engine.IO's own queue or
the connection's ASGI send. Engine.IO's own packets (open, pings, acknowledgements) keep
going through Engine.IO."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qs

import socketio
import structlog
from engineio import packet as eio_packet
from engineio.async_drivers.asgi import WebSocket as EngineWebSocket
from socketio import packet as sio_packet

from domain.errors import DomainError
from infra.identity.auth import Authenticator
from infra.web.json_depth import TOO_DEEP_EVENT, GuardedJson
from infra.web.ws_direct import direct_writer, text_frame
from read_api.chat_gateway import ChatGateway, ChatSession
from read_api.cors import parse_origins
from read_api.live import Outgoing, flatten

log = structlog.get_logger(__name__)
CLIENT_EVENTS = ("chat:join", "chat:send", "chat:leave", "chat:typing",
                 "chat:delete")


class _TrackedWebSocket(EngineWebSocket):
    """Engine.IO's ASGI WebSocket, remembered by the Engine.IO socket it carries (its
    handler is that socket's bound method), with a direct writer to its connection."""

    async def __call__(self, environ: dict[str, Any]) -> Any:
        owner = getattr(self.handler, "__self__", None)
        if owner is not None:
            owner.aethex_ws = self
            owner.aethex_direct = direct_writer(environ.get("asgi.scope", {}))
        return await super().__call__(environ)


def sio_frames(item: Outgoing) -> bytes:
    return item.sio_frames


def _engine_idle(eio: Any) -> bool:
    """Nothing of ours is queued in Engine.IO or in its writer's hands: its queue is empty
    and the writer is waiting on it (it only waits once it has written all it took)."""
    q = eio.queue
    return q.empty() and any(not f.done() for f in getattr(q, "_getters", ()))


class _SioLink:
    """How one Socket.IO connection's pushes reach the wire, keeping their order: direct
    writes only while nothing of this connection's is queued anywhere else."""

    __slots__ = ("eio", "engine_used")

    def __init__(self, eio: Any) -> None:
        self.eio = eio
        self.engine_used = False  # some pushes went through Engine.IO's queue

    def _on_websocket(self) -> bool:
        eio = self.eio
        if not eio.upgraded or eio.upgrading or eio.closed:
            return False
        if self.engine_used:
            if not _engine_idle(eio):
                return False
            self.engine_used = False
        return True

    def write(self, frame: bytes) -> bool:
        writer = getattr(self.eio, "aethex_direct", None)
        return writer is not None and self._on_websocket() and writer.write(frame)

    def abort(self) -> None:
        writer = getattr(self.eio, "aethex_direct", None)
        if writer is not None:
            writer.abort()

    async def send(self, item: Outgoing) -> None:
        """The slower way: the connection's ASGI send, or Engine.IO's queue while polling."""
        ws = getattr(self.eio, "aethex_ws", None)
        if ws is not None and self._on_websocket():
            await ws.send(item.sio_text)
        else:
            self.engine_used = True
            await self.eio.send(eio_packet.Packet(eio_packet.MESSAGE, data=item.sio_text[1:]))


class _Server(socketio.AsyncServer):
    """Acknowledgements take the room's direct path too: an ack is a sender's answer, on
    the hot path of every chat message, and Engine.IO's queue costs a task switch each."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.links: dict[str, _SioLink] = {}  # by Engine.IO sid

    async def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        if pkt.packet_type == sio_packet.ACK and (link := self.links.get(eio_sid)):
            encoded = pkt.encode()
            if isinstance(encoded, str) and link.write(text_frame("4" + encoded)):
                return
            link.engine_used = True  # what follows must not overtake it
        await super()._send_packet(eio_sid, pkt)


def create_socketio(gateway: ChatGateway, authenticator: Authenticator,
                    cors_origins: str) -> socketio.AsyncServer:
    # The HTTP routes' rule (read_api/cors.py): with `*`, no credentials (Engine.IO would
    # otherwise echo any origin with `Access-Control-Allow-Credentials: true`).
    listed = parse_origins(cors_origins)
    sio = _Server(async_mode="asgi",
                  cors_allowed_origins="*" if listed is None else listed,
                  cors_credentials=listed is not None,
                  logger=False, engineio_logger=False,
                  json=GuardedJson(gateway.settings.json_max_depth))
    # A copy: the driver table is shared by every server of the process.
    sio.eio._async = {**sio.eio._async, "websocket": _TrackedWebSocket}
    sessions: dict[str, ChatSession] = {}
    pumps: dict[str, list[asyncio.Task[None]]] = {}

    async def pump(sid: str, session: ChatSession, link: _SioLink) -> None:
        while True:
            batch = await session.next_batch()
            # Engine.IO's queue (long polling) counts against the bound like ours.
            if batch is None or link.eio.queue.qsize() > session.max_queue:
                await sio.disconnect(sid)  # fell too far behind
                return
            try:
                for item in flatten(batch):
                    await link.send(item)
            except Exception:
                return  # the connection is gone; `disconnect` cleans up
            finally:
                session.sent()

    async def drop_when_behind(sid: str, session: ChatSession, link: _SioLink) -> None:
        """The pump may be stuck writing to a client that stopped reading: this does not
        wait for it. The disconnect gets a moment; the connection is dropped anyway."""
        await session.dropped.wait()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):  # in this task: `disconnect` must not cancel it
                await sio.disconnect(sid)
        link.abort()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not token:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            token = (query.get("token") or [None])[0]
        principal = None
        if token:
            try:
                principal = await asyncio.to_thread(authenticator.authenticate, token)
            except DomainError as e:
                raise socketio.exceptions.ConnectionRefusedError(
                    {"code": "unauthenticated", "message": e.message}) from None
        session = gateway.open(principal)
        eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
        link = _SioLink(sio.eio.sockets[eio_sid])
        sio.links[eio_sid] = link
        session.direct = link
        session.frame_of = sio_frames
        sessions[sid] = session
        pumps[sid] = [asyncio.create_task(pump(sid, session, link)),
                      asyncio.create_task(drop_when_behind(sid, session, link))]

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        session = sessions.pop(sid, None)
        if session is not None and isinstance(session.direct, _SioLink):
            sio.links.pop(session.direct.eio.sid, None)
        tasks = [t for t in pumps.pop(sid, []) if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if session is not None:
            await gateway.close(session)

    def handler(event: str) -> Any:
        async def on_event(sid: str, data: Any = None) -> Any:
            session = sessions.get(sid)
            if session is None:
                return {"ok": False, "code": "not_connected", "message": "reconnect"}
            return await gateway.handle(session, event, data)

        return on_event

    for event in CLIENT_EVENTS:
        sio.on(event, handler(event))

    @sio.on(TOO_DEEP_EVENT)
    async def too_deep(sid: str, *args: Any) -> Any:
        error = {"code": "bad_frame", "message": "the event's data nests too deeply"}
        session = sessions.get(sid)
        if session is not None:
            session.emit("chat:error", error)
        return {"ok": False, **error}
    return sio
