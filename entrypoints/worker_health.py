"""A worker process's liveness signal: a tiny HTTP endpoint on `AETHEX_HEALTH_PORT`.

`aethex relay` and `aethex project` serve no API, so an orchestrator had nothing to ask.
Here `GET /health/live` answers 200 while the process is healthy and 503 when it is not:
a supervised task has kept failing for longer than `AETHEX_STALL_S`, the read database or
event store does not answer, or a projector (or the relay) this process runs is stalled
(work waiting, no progress, for longer than the threshold). The body says which.
`GET /metrics` serves this process's Prometheus metrics (task failures and restarts,
projector counters) the way the API's `/metrics` does.

It is plain asyncio (one request per connection, `Connection: close`), so it costs
nothing between probes and adds no dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import structlog

from entrypoints.bootstrap import Services

log = structlog.get_logger(__name__)

PROBE_TIMEOUT_S = 5.0


def _stalled_here(services: Services) -> list[str]:
    from projections.lag import projection_status

    status = projection_status(services.store, services.db, services.projections,
                               stall_s=services.settings.stall_s)
    stalled = [n for n in status["stalled"] if n in services.runners]
    if services.relay is not None and status["relay"]["stalled"]:
        stalled.append("relay")
    return stalled


async def report(services: Services) -> tuple[bool, dict[str, Any]]:
    """(healthy, body): what `/health/live` answers."""
    failing = services.supervisor.failing()
    body: dict[str, Any] = {"failing": failing, "stalled": [], "error": None,
                            "tasks": services.supervisor.status()}
    try:
        body["stalled"] = await asyncio.wait_for(
            asyncio.to_thread(_stalled_here, services), PROBE_TIMEOUT_S)
    except Exception as e:  # the database does not answer (in time): not healthy
        body["error"] = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    healthy = not failing and not body["stalled"] and body["error"] is None
    body["status"] = "ok" if healthy else "unhealthy"
    return healthy, body


class HealthServer:
    """Serves `/health/live` and `/metrics` for one worker process."""

    def __init__(self, services: Services, host: str, port: int) -> None:
        self.services = services
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sockets = self._server.sockets or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]  # the one chosen, when asked for 0
        log.info("worker_health.listening", host=self.host, port=self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), PROBE_TIMEOUT_S)
            while (await asyncio.wait_for(reader.readline(), PROBE_TIMEOUT_S)) not in (
                    b"\r\n", b"\n", b""):
                pass  # headers: nothing in them matters here
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else "/"
            status, content_type, payload = await self._answer(path)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload)
            await writer.drain()
        except Exception:  # a probe that hung up or sent garbage: nothing to answer
            log.debug("worker_health.request_failed", exc_info=True)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, path: str) -> tuple[str, str, bytes]:
        if path in ("/", "/health", "/health/live", "/health/ready"):
            healthy, body = await report(self.services)
            return ("200 OK" if healthy else "503 Service Unavailable", "application/json",
                    json.dumps(body).encode())
        if path == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST

            from read_api.metrics import render

            payload = await asyncio.to_thread(render, self.services.process, 0)
            return "200 OK", CONTENT_TYPE_LATEST, payload
        return "404 Not Found", "text/plain", b"not found\n"
