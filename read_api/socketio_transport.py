"""The Socket.IO transport of the chat gateway (python-socketio, ASGI, mounted beside
Litestar at /socket.io/), so the stock `socket.io-client` works unchanged.

Sign in with `io(url, {auth: {token}})` or `?token=`; events are the contract's names;
client events may take an acknowledgement callback, answered with `{ok, ...}`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qs

import socketio
import structlog

from domain.errors import DomainError
from infra.auth import Authenticator
from read_api.chat_gateway import ChatGateway, ChatSession
from read_api.live import flatten

log = structlog.get_logger(__name__)
CLIENT_EVENTS = ("chat:join", "chat:send", "chat:leave", "chat:typing",
                 "chat:delete")  # issue 6


def create_socketio(gateway: ChatGateway, authenticator: Authenticator,
                    cors_origins: str) -> socketio.AsyncServer:
    origins: str | list[str] = "*" if cors_origins.strip() == "*" else [
        o.strip() for o in cors_origins.split(",") if o.strip()]
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=origins,
                               logger=False, engineio_logger=False)
    sessions: dict[str, ChatSession] = {}
    pumps: dict[str, asyncio.Task[None]] = {}

    def engine_backlog(sid: str) -> int:
        """Packets Engine.IO still holds for this client (its writer never blocks us)."""
        try:
            eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
            return sio.eio.sockets[eio_sid].queue.qsize()
        except (KeyError, AttributeError):
            return 0

    async def pump(sid: str, session: ChatSession) -> None:
        while True:
            batch = await session.next_batch()
            if batch is None or engine_backlog(sid) > session.max_queue:
                await sio.disconnect(sid)  # fell too far behind
                return
            try:
                for item in flatten(batch):
                    await sio.emit(item.event, item.data, to=sid)
            finally:
                session.sent()

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
        sessions[sid] = session
        pumps[sid] = asyncio.create_task(pump(sid, session))

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        session = sessions.pop(sid, None)
        task = pumps.pop(sid, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
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
    return sio
