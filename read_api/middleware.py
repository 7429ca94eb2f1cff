"""A request id on every request: taken from `X-Request-ID` when sane, else made; bound
into structlog's context for every log line, echoed in the response, logged on completion."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("aethex.access")
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id  # type: ignore[typeddict-unknown-key]
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers  # type: ignore[typeddict-item]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            if scope["type"] == "websocket":  # no per-frame wrapper on the hot path
                await app(scope, receive, send)
                return
            try:
                await app(scope, receive, send_with_id)
            finally:
                if scope["type"] == "http":
                    log.info(
                        "request",
                        method=scope.get("method"),
                        path=scope.get("path"),
                        status=status,
                        ms=round((time.perf_counter() - started) * 1000, 2),
                    )

    return middleware
