"""`GET /metrics` in the Prometheus text format, and the request-latency middleware.

The counters and histograms come from `infra.observability.metrics`; the gauges (event store head,
relay and projector positions and lag, WebSocket connections) are read when scraped, so
they cost nothing between scrapes and are right on whichever node answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from infra.observability import metrics, tracing
from read_api.operations import ProcessState


class StateCollector(Collector):
    """Gauges from a snapshot of the log's and the read models' positions."""

    def __init__(self, status: dict[str, Any], connections: int,
                 tasks: list[dict[str, Any]] | None = None) -> None:
        self.status = status
        self.connections = connections
        self.tasks = tasks or []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.status
        yield GaugeMetricFamily("aethex_event_store_head", "Position of the last stored event",
                                value=s["head"])
        position = GaugeMetricFamily("aethex_projection_position",
                                     "Log position a projection has applied", labels=["projection"])
        lag = GaugeMetricFamily("aethex_projection_lag_events",
                                "Events a projection is behind the head", labels=["projection"])
        lag_s = GaugeMetricFamily("aethex_projection_lag_seconds",
                                  "Age of the oldest event a projection has not applied",
                                  labels=["projection"])
        stalled = GaugeMetricFamily(
            "aethex_projection_stalled", "1 while a projection has had work and made no "
            "progress for longer than AETHEX_STALL_S", labels=["projection"])
        for p in s["projections"]:
            position.add_metric([p["name"]], p["position"])
            lag.add_metric([p["name"]], p["lagEvents"])
            lag_s.add_metric([p["name"]], p["lagSeconds"])
            stalled.add_metric([p["name"]], 1.0 if p["stalled"] else 0.0)
        yield position
        yield lag
        yield lag_s
        yield stalled
        up = GaugeMetricFamily(
            "aethex_task_up", "1 while a supervised task of this process runs, 0 while it "
            "waits to be restarted after a failure", labels=["task"])
        for t in self.tasks:
            up.add_metric([t["name"]], 1.0 if t["state"] == "running" else 0.0)
        yield up
        yield GaugeMetricFamily("aethex_relay_lag_events",
                                "Events the relay has not yet published",
                                value=s["relay"]["lagEvents"])
        yield GaugeMetricFamily("aethex_relay_lag_seconds",
                                "Age of the oldest event the relay has not published",
                                value=s["relay"]["lagSeconds"])
        yield GaugeMetricFamily("aethex_websocket_connections",
                                "Open WebSocket connections on this node", value=self.connections)


def render(process: ProcessState, connections: int) -> bytes:
    """The whole exposition: process-wide metrics, then the state gauges."""
    status = process.projections_blocking()
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(status, connections, process.supervisor.status()))
    return generate_latest(metrics.REGISTRY) + generate_latest(state)


@get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request[Any, Any, Any],
                           process: NamedDependency[ProcessState]) -> Response[bytes]:
    """Prometheus scrape target."""
    gateway = getattr(request.app.state, "gateway", None)
    connections = len(gateway.sessions) if gateway is not None else 0  # Socket.IO included
    body = await asyncio.to_thread(render, process, connections)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def latency_middleware(app: ASGIApp) -> ASGIApp:
    """Times each HTTP request into `aethex_http_request_duration_seconds`, labelled by the
    route template (`/api/streams/{stream_id}`), never the raw path: ids would make
    a new series per stream."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if tracing.ON:
                with tracing.server_span(f"{scope.get('method', '')} {scope['path']}",
                                         scope.get("headers", ())) as span:
                    try:
                        await app(scope, receive, send_with_status)
                    finally:  # named by the route template, as the latency metric is
                        route = scope.get("path_template")  # type: ignore[typeddict-item]
                        span.update_name(f"{scope.get('method', '')} {route or 'unmatched'}")
                        span.set_attribute("http.response.status_code", status)
            else:
                await app(scope, receive, send_with_status)
        finally:
            route = scope.get("path_template") or "unmatched"  # type: ignore[typeddict-item]
            metrics.REQUEST_LATENCY.labels(scope.get("method", ""), route, str(status)).observe(
                time.perf_counter() - started)

    return middleware
