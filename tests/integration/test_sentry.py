"""Errors to Sentry: the real `sentry-sdk` sends to a loopback HTTP server that reads its
envelopes. A failing route, a failing projector and a failing relay each arrive once;
clients' errors do not arrive; no secret is anywhere in what was sent."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.channel import Channel
from infra.observability.sentry import clean, scrub, start_sentry, stop_sentry
from infra.settings import SettingsError, load_settings
from tests.harness import LiveServer, embedded_settings, running
from tests.integration.client import Api
from tests.receivers import CapturingServer, sentry_events

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-staple"
COOKIE = "session=s3cr3t-cookie-value-123456"
WEBHOOK_SECRET = "whsec_c2VjcmV0LXdlYmhvb2stc2lnbmluZy1rZXk="


@pytest.fixture
def reported(tmp_path: Path) -> Iterator[tuple[LiveServer, CapturingServer]]:
    with CapturingServer() as receiver:
        settings = embedded_settings(
            tmp_path, sentry_dsn=f"http://publickey@127.0.0.1:{receiver.server.server_address[1]}/42",
            environment="test", release="aethex-live@test", restart_backoff_max_s=0.2)
        assert start_sentry(settings, "api")  # before the app: its integration wraps it
        try:
            with running(settings) as live:
                yield live, receiver
        finally:
            stop_sentry()


def _fail_once(obj: Any, name: str, error: Exception) -> None:
    """`obj.name` raises `error` on its next call, then works again (a transient fault)."""
    original = getattr(obj, name)

    def failing(*args: Any, **kwargs: Any) -> Any:
        setattr(obj, name, original)
        raise error

    setattr(obj, name, failing)


async def test_route_projector_and_relay_errors_arrive_once_without_secrets(
        reported: tuple[LiveServer, CapturingServer]) -> None:
    live, receiver = reported
    services = live.services
    api = Api(live.url, live.ws_url)
    try:
        owner = await api.register()
        token = owner["token"]
        channel = await api.channel(owner)
        auth = {"Authorization": f"Bearer {token}", "Cookie": COOKIE,
                "X-Webhook-Secret": WEBHOOK_SECRET}
        key = (await api.http.get(f"/api/channels/{channel['id']}/stream-key",
                                  headers=auth)).json()["streamKey"]
        # Clients' mistakes are not errors of ours: none of these is reported.
        assert (await api.http.get("/api/channels/no-such-channel")).status_code == 404
        assert (await api.http.post("/api/auth/login", json={
            "email": "nobody@example.com", "password": PASSWORD})).status_code in (401, 422)
        assert (await api.http.get(f"/api/channels/{channel['id']}/stream-key")).status_code == 401
        # Reporting does not change answers: a body that is not JSON is still the client's.
        malformed = await api.http.post("/api/channels", content=b"{nope", headers={
            **owner["headers"], "Content-Type": "application/json"})
        assert malformed.status_code == 400, malformed.text

        # A route fails, with secrets in its request and in the error's message.
        get = services.aggregates.get

        async def failing_get(aggregate_id: Any, kind: type, **kw: Any) -> Any:
            found = await get(aggregate_id, kind, **kw)
            if kind is Channel:
                raise RuntimeError(f"could not show stream key {key} to Bearer {token} "
                                   f"(password={PASSWORD})")
            return found

        services.aggregates.get = failing_get  # type: ignore[method-assign]
        try:
            failed = await api.http.get(f"/api/channels/{channel['id']}/stream-key",
                                        params={"token": token}, headers=auth)
        finally:
            del services.aggregates.get
        assert failed.status_code == 500

        # A projector fails once (then recovers), and so does the relay.
        _fail_once(services.projection("chat_history"), "apply",
                   RuntimeError(f"projection failed near token={token}"))
        _fail_once(services.bus, "publish", RuntimeError(f"relay could not encode {key}"))
        stream = await api.go_live(owner, channel["id"])
        assert (await api.send(owner, stream["id"], "hello")).status_code == 201
        await api.http.get(f"/api/streams/{stream['id']}/messages",
                           params={"after": stream["position"] + 1}, timeout=20)
    finally:
        await api.close()

    def three() -> list[dict[str, Any]] | None:
        import sentry_sdk

        sentry_sdk.flush(timeout=2)
        events = sentry_events(receiver)
        return events if len(events) >= 3 else None

    events = receiver.wait_for(three, timeout=20, what="three error events")
    await asyncio.sleep(0.5)  # a duplicate would come with the same flush
    events = sentry_events(receiver)
    assert len(events) == 3, [e.get("tags") for e in events]
    route = [e for e in events
             if e.get("tags", {}).get("route", "").endswith("/stream-key")]
    projector = [e for e in events if e.get("tags", {}).get("task") == "projector:chat_history"]
    relay = [e for e in events if e.get("tags", {}).get("task") == "relay"]
    assert len(route) == len(projector) == len(relay) == 1, [e.get("tags") for e in events]
    request = route[0]["request"]  # from the SDK's ASGI middleware
    assert request["method"] == "GET" and request["url"].endswith("/stream-key")
    assert "relay could not encode" in relay[0]["exception"]["values"][-1]["value"]
    for event in events:
        assert event["environment"] == "test" and event["release"] == "aethex-live@test"

    sent = b"".join(r.body for r in receiver.snapshot())
    for secret in (token, key, PASSWORD, "s3cr3t-cookie-value", WEBHOOK_SECRET):
        assert secret.encode() not in sent, f"{secret[:12]}... left in what was sent"
    assert b"[redacted]" in sent  # scrubbed, not merely absent


def test_scrub_masks_by_name_and_by_shape() -> None:
    event = {"request": {"headers": [["Authorization", "Bearer abcdefghijk"],
                                     ["X-Api-Key", "k-123"], ["Accept", "text/html"]],
                         "cookies": {"session": "x"}, "query_string": "token=abc&page=2"},
             "extra": {"stream_key": "live_0123456789abcdefXYZ", "webhook_secret": "w",
                       "note": "sent eyJhbGciOi.eyJzdWIiOiIx.sig along"},
             "breadcrumbs": {"values": [{"message": "password=hunter2 given"}]}}
    cleaned = clean(event)
    text = str(cleaned)
    for secret in ("abcdefghijk", "k-123", "'x'", "token=abc", "live_0123456789",
                   "'w'", "eyJhbGciOi", "hunter2"):
        assert secret not in text, secret
    assert ["Accept", "text/html"] in cleaned["request"]["headers"]
    assert "page=2" in cleaned["request"]["query_string"]
    # Expected errors are dropped, ours are kept.
    from domain.errors import NotFound

    assert scrub({"x": 1}, {"exc_info": (NotFound, NotFound("no"), None)}) is None
    assert scrub({"x": 1}, {"exc_info": (RuntimeError, RuntimeError("ours"), None)}) == {"x": 1}


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("AETHEX_SENTRY_DSN", "not a dsn", "AETHEX_SENTRY_DSN must be an http"),
    ("AETHEX_SENTRY_DSN", "https://sentry.example.com/1", "no public key"),
    ("AETHEX_SENTRY_DSN", "https://key@sentry.example.com/project", "numeric project id"),
    ("AETHEX_OTLP_ENDPOINT", "127.0.0.1:4318", "AETHEX_OTLP_ENDPOINT must be an http"),
    ("AETHEX_OTLP_ENDPOINT", "http://127.0.0.1:70000", "not a valid URL"),
    ("AETHEX_OTLP_SAMPLE_RATIO", "1.5", "between 0 and 1"),
    ("AETHEX_POSTHOG_HOST", "posthog.example.com", "AETHEX_POSTHOG_HOST must be an http"),
])
def test_bad_observability_settings_are_refused(variable: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        load_settings({variable: value, "AETHEX_POSTHOG_KEY": "phc_test"})


def test_a_process_with_a_malformed_dsn_refuses_to_start(tmp_path: Path) -> None:
    for command in ("serve", "relay"):
        done = subprocess.run(
            [sys.executable, "-m", "entrypoints.cli", command], cwd=ROOT, capture_output=True,
            env={"PATH": "/usr/bin:/bin", "AETHEX_DATA_DIR": str(tmp_path),
                 "AETHEX_SENTRY_DSN": "https://sentry.example.com/1"}, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("aethex: invalid setting: AETHEX_SENTRY_DSN has no "
                                      "public key"), done.stderr
