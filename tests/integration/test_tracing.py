"""One chat message, one trace, three processes: `aethex serve` (the API node), `aethex
relay` and `aethex project`, each exporting OTLP over HTTP to a real receiver on loopback
that decodes what the OpenTelemetry exporter sends."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import socketio

from infra.settings import postgres_params
from tests.harness import (
    DATABASE_URL,
    TEST_KEY,
    drop_namespace,
    free_port,
    new_namespace,
    production_env,
    require_services,
    stop_processes,
)
from tests.integration.client import Api
from tests.integration.live_support import wait_ready
from tests.receivers import CapturingServer, Span, otlp_spans

ROOT = Path(__file__).resolve().parents[2]
SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP span kinds


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[str, CapturingServer, str]]:
    require_services()
    namespace = new_namespace()
    procs: list[subprocess.Popen[bytes]] = []
    with CapturingServer() as receiver:
        try:
            env = production_env(
                namespace, AETHEX_JWT_SECRET=TEST_KEY, AETHEX_DATA_DIR=str(tmp_path / "var"),
                AETHEX_LOG_LEVEL="WARNING", AETHEX_OTLP_ENDPOINT=receiver.url,
                OTEL_BSP_SCHEDULE_DELAY="100")
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port)],
                cwd=ROOT, env={**env, "AETHEX_WORKERS": "none"}, stdout=subprocess.DEVNULL))
            wait_ready(url, procs[:1], path="/health/live")  # it made the schema
            for command in (["relay"], ["project"]):
                procs.append(subprocess.Popen([sys.executable, "-m", "entrypoints.cli",
                                               *command], cwd=ROOT, env=env))
            yield url, receiver, namespace
        finally:
            stop_processes(*procs)
            drop_namespace(namespace)



async def test_one_message_is_one_trace_across_three_processes(
        traced: tuple[str, CapturingServer, str]) -> None:
    url, receiver, namespace = traced
    api = Api(url, url.replace("http", "ws"))
    try:
        owner = await api.register()
        channel = await api.channel(owner)
        stream = await api.go_live(owner, channel["id"])
        # The projectors (another process) have applied the go-live: the relay is idle.
        deadline = time.monotonic() + 60  # the projector process may still be starting
        while (seen := await api.http.get(f"/api/streams/{stream['id']}", params={
                "after": stream["position"]})).status_code == 503 and time.monotonic() < deadline:
            pass  # each try waits up to AETHEX_READ_WAIT_TIMEOUT_S
        assert seen.status_code == 200, seen.text
        trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
        sent = await api.http.post(
            f"/api/streams/{stream['id']}/messages", json={"content": "traced hello"},
            headers={"Authorization": f"Bearer {owner['token']}",
                     "traceparent": f"00-{trace_id}-{caller}-01"})
        assert sent.status_code == 201, sent.text
        # The same over Socket.IO: the socket event is the root of its message's trace.
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(url, auth={"token": owner["token"]}, transports=["websocket"])
        try:
            assert (await sio.call("chat:join", {"streamId": stream["id"]}))["ok"]
            assert (await sio.call("chat:send", {"content": "over the socket"}))["ok"]
        finally:
            await sio.disconnect()
    finally:
        await api.close()

    def trace() -> list[Span]:
        return [s for s in otlp_spans(receiver) if s.trace_id == trace_id]

    def complete() -> list[Span] | None:
        spans = trace()
        names = {s.name for s in spans}
        wanted = {"group commit", "live push", "relay publish", "projector chat_history"}
        return spans if wanted <= names else None

    try:
        spans = receiver.wait_for(complete, timeout=30, what="the message's spans")
    except AssertionError as e:
        raise AssertionError(f"{e}; in the trace: {sorted(s.name for s in trace())}") from None
    by_name = {s.name: s for s in spans}
    request = next(s for s in spans if s.parent_id == caller)
    assert request.kind == SERVER and request.service == "aethex-api"
    assert request.name.startswith("POST /api/streams/")
    batch = by_name["group commit"]  # the command's handler: it decides the batch
    relay, projector = by_name["relay publish"], by_name["projector chat_history"]
    assert batch.parent_id == request.span_id
    assert by_name["live push"].parent_id == batch.span_id
    assert relay.parent_id == batch.span_id and relay.kind == PRODUCER
    assert projector.parent_id == relay.span_id and projector.kind == CONSUMER
    # Three processes, each its own service and instance.
    assert (request.service, relay.service, projector.service) == (
        "aethex-api", "aethex-relay", "aethex-projector")
    assert len({request.instance, relay.instance, projector.instance}) == 3

    def socket_trace() -> list[Span] | None:
        spans = otlp_spans(receiver)
        roots = [s for s in spans if s.name == "socket chat:send"]
        if not roots:
            return None
        same = [s for s in spans if s.trace_id == roots[0].trace_id]
        names = {s.name for s in same}
        return same if {"group commit", "relay publish", "projector chat_history"} <= names \
            else None

    over_socket = {s.name: s for s in receiver.wait_for(socket_trace, timeout=30,
                                                         what="the socket message's spans")}
    root = over_socket["socket chat:send"]
    assert root.kind == SERVER and root.parent_id == ""
    assert over_socket["group commit"].parent_id == root.span_id
    assert over_socket["relay publish"].parent_id == over_socket["group commit"].span_id
    assert over_socket["projector chat_history"].parent_id == \
        over_socket["relay publish"].span_id

    # Other commands have a span of their own, under their request.
    spans = otlp_spans(receiver)
    go_live = next(s for s in spans if s.name == "command GoLive")
    parent = next(s for s in spans if s.span_id == go_live.parent_id)
    assert parent.kind == SERVER and parent.name.startswith("POST /api/streams/")
    assert parent.name.endswith("/start")

    # The context is stored with the event: a replay can tell where it came from.
    with psycopg.connect(**postgres_params(DATABASE_URL)) as conn:
        states = [bytes(row[0]) for row in conn.execute(
            psycopg.sql.SQL("SELECT state FROM {}.aethex_events WHERE topic LIKE %s").format(
                psycopg.sql.Identifier(namespace)), ("%ChatMessage.Sent",))]
    assert len(states) == 2
    assert any(f'"traceparent":"00-{trace_id}-{batch.span_id}-' in s.decode() for s in states)
