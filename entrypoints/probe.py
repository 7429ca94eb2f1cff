"""`aethex probe URL`: a synthetic user. It signs in as the probe user (registering it the
first time), makes sure its channel has a live stream, joins that stream over Socket.IO,
sends a message and times it back, reads the channel page, and prints one line (or JSON)
with each latency; any failure exits non-zero. With `--every 30s` it keeps going and serves
`aethex_probe_*` metrics, so the chat latency users see is watched, not assumed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from infra.settings import Settings

STEPS = ("signin", "stream", "join", "chat", "page")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """`30s`, `500ms`, `2m`, `1h` or plain seconds, as seconds (more than zero)."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (say 30s, 500ms, 2m)")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2) or "s"]
    return float(match.group(1)) * scale


class ProbeFailed(Exception):
    """A step of the probe failed; `step` names it."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


@dataclass
class ProbeResult:
    """One run: whether it passed, each step's latency in seconds, and why it failed."""

    ok: bool
    latencies: dict[str, float] = field(default_factory=dict)
    failed_step: str | None = None
    error: str | None = None

    def line(self) -> str:
        timings = " ".join(f"{k}={v * 1000:.1f}ms" for k, v in self.latencies.items())
        if self.ok:
            return f"ok {timings}"
        return f"FAILED step={self.failed_step} error={self.error!r} {timings}".rstrip()

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "failedStep": self.failed_step, "error": self.error,
                **{f"{k}Ms": round(v * 1000, 2) for k, v in self.latencies.items()}}


@dataclass(frozen=True)
class ProbeUser:
    email: str
    password: str
    username: str

    @property
    def slug(self) -> str:
        return f"{self.username}-channel"


class Probe:
    """One probe user against one deployment; `run` is one pass through every step."""

    def __init__(self, base_url: str, user: ProbeUser, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.user = user
        self.timeout_s = timeout_s

    async def run(self) -> ProbeResult:
        result = ProbeResult(ok=False)
        step = STEPS[0]
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s) as http:
            try:
                started = time.perf_counter()
                token = await self._sign_in(http)
                result.latencies[step] = time.perf_counter() - started
                step = "stream"
                started = time.perf_counter()
                stream_id = await self._live_stream(http, token)
                result.latencies[step] = time.perf_counter() - started
                step = "join"
                await self._chat(token, stream_id, result)
                step = "page"
                started = time.perf_counter()
                page = await http.get(f"/api/channels/{self.user.slug}")
                _expect(page, 200, "page")
                result.latencies[step] = time.perf_counter() - started
                result.ok = True
            except ProbeFailed as e:
                result.failed_step, result.error = e.step, str(e)
            except (httpx.HTTPError, socketio.exceptions.SocketIOError, OSError,
                    TimeoutError) as e:
                result.failed_step = step if step != "join" or "join" not in result.latencies \
                    else "chat"
                result.error = f"{type(e).__name__}: {e}"
        return result

    async def _sign_in(self, http: httpx.AsyncClient) -> str:
        u = self.user
        r = await http.post("/api/auth/login", json={"email": u.email, "password": u.password})
        if r.status_code == 401:  # the first run: the probe user does not exist yet
            r = await http.post("/api/auth/register", json={
                "email": u.email, "username": u.username, "password": u.password,
                "displayName": "Synthetic probe"})
            if r.status_code == 409:
                raise ProbeFailed("signin", "POST /api/auth/login answered 401 for a user "
                                            "that exists: is AETHEX_PROBE_PASSWORD right?")
            _expect(r, 201, "signin")
        else:
            _expect(r, 200, "signin")
        return str(r.json()["token"])

    async def _live_stream(self, http: httpx.AsyncClient, token: str) -> str:
        auth = {"Authorization": f"Bearer {token}"}
        page = await http.get(f"/api/channels/{self.user.slug}")
        if page.status_code == 404:
            page = await http.post("/api/channels", headers=auth, json={
                "slug": self.user.slug, "name": "Probe", "isPublic": False,
                "description": "synthetic monitoring"})
            _expect(page, 201, "stream")
        else:
            _expect(page, 200, "stream")
        channel = page.json()
        current = channel.get("currentStream")
        if current and current.get("status") == "LIVE":
            return str(current["id"])
        started = await http.post(f"/api/streams/{channel['id']}/start", headers=auth,
                                  json={"title": "synthetic probe"})
        _expect(started, 201, "stream")
        return str(started.json()["id"])

    async def _chat(self, token: str, stream_id: str, result: ProbeResult) -> None:
        content = f"probe {secrets.token_hex(6)}"
        heard: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        sio = socketio.AsyncClient(reconnection=False)

        @sio.on("chat:message")
        async def on_message(message: Any) -> None:
            if isinstance(message, dict) and message.get("content") == content \
                    and not heard.done():
                heard.set_result(time.perf_counter())

        started = time.perf_counter()
        try:
            await sio.connect(self.base_url, auth={"token": token}, transports=["websocket"],
                              socketio_path="socket.io", wait_timeout=self.timeout_s)
            joined = await sio.call("chat:join", {"streamId": stream_id},
                                    timeout=self.timeout_s)
            if not (isinstance(joined, dict) and joined.get("ok")):
                raise ProbeFailed("join", f"chat:join refused: {joined!r}")
            result.latencies["join"] = time.perf_counter() - started
            sent_at = time.perf_counter()
            ack = await sio.call("chat:send", {"content": content}, timeout=self.timeout_s)
            if not (isinstance(ack, dict) and ack.get("ok")):
                raise ProbeFailed("chat", f"chat:send refused: {ack!r}")
            try:
                arrived = await asyncio.wait_for(heard, self.timeout_s)
            except TimeoutError:
                raise ProbeFailed("chat", f"the message did not come back within "
                                          f"{self.timeout_s:g} s") from None
            result.latencies["chat"] = arrived - sent_at
        finally:
            await sio.disconnect()


def _expect(r: httpx.Response, status: int, step: str) -> None:
    if r.status_code != status:
        raise ProbeFailed(step, f"{r.request.method} {r.request.url.path} answered "
                                f"{r.status_code}: {r.text[:200]}")


class ProbeMetrics:
    """The `aethex_probe_*` series, in a registry of their own (the probe's process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.up = Gauge("aethex_probe_up", "1 if the last probe passed every step, else 0",
                        registry=self.registry)
        self.runs = Counter("aethex_probe_runs", "Probe runs, by result", ["result"],
                            registry=self.registry)
        self.failures = Counter("aethex_probe_failures", "Failed probe runs, by failing step",
                                ["step"], registry=self.registry)
        self.latency = Histogram(
            "aethex_probe_latency_seconds", "Latency of each probe step (chat: sent to heard "
            "back over Socket.IO)", ["step"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0))
        self.last = Gauge("aethex_probe_last_latency_seconds",
                          "Latency of each step in the last probe run", ["step"],
                          registry=self.registry)
        self.last_success = Gauge("aethex_probe_last_success_timestamp_seconds",
                                  "Unix time of the last probe run that passed",
                                  registry=self.registry)
        for step in STEPS:  # every series exists from the start, at zero
            self.latency.labels(step)
            self.failures.labels(step)
        for outcome in ("ok", "failed"):
            self.runs.labels(outcome)

    def record(self, result: ProbeResult) -> None:
        self.up.set(1 if result.ok else 0)
        self.runs.labels("ok" if result.ok else "failed").inc()
        if result.failed_step:
            self.failures.labels(result.failed_step).inc()
        for step, seconds in result.latencies.items():
            self.latency.labels(step).observe(seconds)
            self.last.labels(step).set(seconds)
        if result.ok:
            self.last_success.set(time.time())


def add_parser(sub: Any) -> None:
    p = sub.add_parser("probe", help="synthetic check: sign in, chat over Socket.IO, time it")
    p.add_argument("url", help="the deployment's base URL (http://127.0.0.1:8000)")
    p.add_argument("--every", default=None,
                   help="keep probing at this interval (30s, 1m) and serve /metrics")
    p.add_argument("--json", action="store_true", help="print one JSON object per run")
    p.add_argument("--timeout", default="10s", help="longest wait for any one step")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="with --every: where /metrics is served (default AETHEX_HEALTH_PORT, "
                        "else 9464)")
    p.set_defaults(run=run_cli)


def run_cli(settings: Settings, args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    if not settings.probe_password:
        print("aethex: set AETHEX_PROBE_PASSWORD (and AETHEX_PROBE_EMAIL): the probe signs "
              "in as that user, registering it on its first run", file=sys.stderr)
        return 2
    try:
        every = parse_duration(args.every) if args.every is not None else None
        timeout = parse_duration(args.timeout)
    except ValueError as e:
        print(f"aethex: {e}", file=sys.stderr)
        return 2
    user = ProbeUser(settings.probe_email, settings.probe_password,
                     settings.probe_email.split("@", 1)[0].replace(".", "-")[:40] or "probe")
    probe = Probe(args.url, user, timeout_s=timeout)
    if every is None:
        result = asyncio.run(probe.run())
        _print(result, args.json)
        return 0 if result.ok else 1
    port = args.metrics_port if args.metrics_port is not None else (settings.health_port or 9464)
    return asyncio.run(_keep_probing(probe, every, args.json, settings.host, port))


async def _keep_probing(probe: Probe, every: float, as_json: bool, host: str,
                        port: int) -> int:
    from prometheus_client import start_http_server

    metrics = ProbeMetrics()
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    print(f"aethex probe: metrics on http://{host}:{server.server_port}/metrics",
          file=sys.stderr, flush=True)
    try:
        while True:
            started = time.monotonic()
            result = await probe.run()
            metrics.record(result)
            _print(result, as_json)
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))
    finally:
        server.shutdown()
        thread.join(5)


def _print(result: ProbeResult, as_json: bool) -> None:
    print(json.dumps(result.as_json()) if as_json else result.line(), flush=True)
