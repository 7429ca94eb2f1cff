"""Bad input and stale access over the real server, on both modes: deep JSON, bodies that
are not JSON, tokens of accounts that do not exist (or were deleted), sign-in throttling,
positions past the log's head, router answers with a request id, and no secret in the logs
of a whole run in either log format."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import socketio
import structlog
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from infra.observability.logging import configure_logging
from tests.harness import TEST_KEY, LiveServer, redis_keys, serving
from tests.integration.client import Api, assert_problem, next_event

DEEP = b'{"email": "deep@example.com", "password": "deep-secret-pw", "x": ' + \
    b"[" * 5000 + b"]" * 5000 + b"}"
LIMITS = {"login_failures_per_account": "3 per 1 minute",
          "login_failures_per_address": "6 per 1 minute"}


@pytest.fixture(params=["embedded", "production"])
def limited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """The service with low sign-in limits."""
    with serving(request.param, tmp_path, **LIMITS) as live:
        yield live


@pytest.fixture
async def api(limited: LiveServer) -> AsyncIterator[Api]:
    client = Api(limited.url, limited.ws_url)
    yield client
    await client.close()


def forged_token(user_id: str, username: str = "admin") -> str:
    """Signed with the server's real key, for a user id of our choosing."""
    now = int(time.time())
    return jwt.encode({"sub": user_id, "username": username, "name": username,
                       "iss": "aethex-live", "aud": "aethex-live", "iat": now,
                       "exp": now + 600}, TEST_KEY, algorithm="HS256")


async def test_deep_json_is_refused_at_once_on_every_json_route(api: Api) -> None:
    user = await api.register()
    channel = await api.channel(user)
    stream = await api.go_live(user, channel["id"])
    routes = [("/api/auth/register", {}), ("/api/auth/login", {}),
              ("/api/channels", user["headers"]),
              (f"/api/streams/{stream['id']}/messages", user["headers"]),
              (f"/api/channels/{channel['id']}/moderators/x", user["headers"])]
    for path, headers in routes[:4]:
        # Refused by the depth check that runs before any decoding (its own problem type),
        # so the parser never walks the 5,000 levels; not timed (a busy machine is slow).
        r = await api.http.post(path, content=DEEP, headers={
            **headers, "content-type": "application/json"})
        body = assert_problem(r, 400, "body")
        assert body["type"] == "/problems/too_deeply_nested" and "64" in body["detail"]
    r = await api.http.put(f"/api/channels/{channel['id']}/filters", content=DEEP,
                           headers={**user["headers"], "content-type": "application/json"})
    assert_problem(r, 400, "body")
    # 64 levels are still read (and then judged on their content as before).
    shallow = b'{"content": ' + b"[" * 63 + b"]" * 63 + b"}"
    r = await api.http.post(f"/api/streams/{stream['id']}/messages", content=shallow,
                            headers={**user["headers"], "content-type": "application/json"})
    assert_problem(r, 422, "content")


async def test_deep_frames_are_refused_on_the_sockets(api: Api, limited: LiveServer) -> None:
    user = await api.register()
    channel = await api.channel(user)
    stream = await api.go_live(user, channel["id"])
    async with connect(f"{api.ws_url}/ws/streams/{stream['id']}?token={user['token']}") as ws:
        await next_event(ws, "chat:history")
        await ws.send('{"event": "chat:send", "data": ' + "[" * 5000 + "]" * 5000 + "}")
        error = await next_event(ws, "chat:error")
        assert error["code"] == "bad_frame" and "64" in error["message"]
        await ws.send(json.dumps({"event": "chat:send", "data": {"content": "still here"}}))
        assert (await next_event(ws, "chat:message"))["content"] == "still here"

    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("chat:error", errors.append)
    await client.connect(limited.url, transports=["websocket"], auth={"token": user["token"]},
                         wait_timeout=10)
    try:
        ack = await client.call("chat:join", {"streamId": stream["id"]}, timeout=10)
        assert ack["ok"], ack
        # Raw: the client's own encoder would recurse on such data before sending it.
        await client.eio.send('2["chat:send",' + "[" * 5000 + "]" * 5000 + "]")
        for _ in range(100):
            if errors:
                break
            await asyncio.sleep(0.05)
        assert errors and errors[0]["code"] == "bad_frame", errors
        ack = await client.call("chat:send", {"content": "sio still here"}, timeout=10)
        assert ack["ok"], ack
    finally:
        await client.disconnect()


async def test_a_body_that_is_not_json_gets_415(api: Api) -> None:
    payload = json.dumps({"email": "plain@example.com", "username": "plain",
                          "password": "correct horse"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x"):
        r = await api.http.post("/api/auth/register", content=payload,
                                headers={"content-type": content_type})
        body = assert_problem(r, 415, "body")
        assert body["type"] == "/problems/unsupported_media_type"
    # Accepted as before: JSON, a +json type, and a body with no content type at all.
    r = await api.http.post("/api/auth/register", content=payload,
                            headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text
    r = await api.http.post("/api/auth/login", content=json.dumps(
        {"email": "plain@example.com", "password": "correct horse"}),
        headers={"content-type": "application/vnd.api+json"})
    assert r.status_code == 200, r.text
    bare = httpx.Request("POST", f"{api.http.base_url}/api/auth/login", content=json.dumps(
        {"email": "plain@example.com", "password": "correct horse"}).encode())
    bare.headers.pop("content-type", None)
    assert (await api.http.send(bare)).status_code == 200


async def test_a_token_without_an_account_is_refused_everywhere(api: Api,
                                                                limited: LiveServer) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    stream = await api.go_live(owner, channel["id"])
    ghost = forged_token(str(uuid.uuid4()))
    headers = {"Authorization": f"Bearer {ghost}"}
    body = assert_problem(await api.send({"headers": headers}, stream["id"], "hi"), 401)
    assert "does not exist" in body["detail"]
    assert_problem(await api.http.get("/api/auth/user", headers=headers), 401)
    async with connect(f"{api.ws_url}/ws/chat?token={ghost}") as ws:
        assert (await next_event(ws, "chat:error"))["code"] == "unauthenticated"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(limited.url, transports=["websocket"], auth={"token": ghost},
                             wait_timeout=10)
    # A real account's token still works, with its own (not the claimed) name.
    claimed = forged_token(owner["id"], username="someone_else")
    r = await api.send({"headers": {"Authorization": f"Bearer {claimed}"}}, stream["id"], "me")
    assert r.status_code == 201, r.text
    assert r.json()["user"]["username"] == owner["username"]


async def test_failed_logins_are_throttled_per_account_and_address(
        api: Api, limited: LiveServer) -> None:
    alice = await api.register()
    email = f"{alice['username']}@example.com"

    async def login(password: str, address: str, who: str = email) -> httpx.Response:
        # uvicorn takes X-Forwarded-For from a loopback proxy: one address per caller.
        return await api.http.post("/api/auth/login", json={"email": who, "password": password},
                                   headers={"x-forwarded-for": address})

    assert (await login("correct horse", "10.1.0.1")).status_code == 200  # alice, at home
    for _ in range(3):
        assert_problem(await login("wrong", "10.6.6.6"), 401)
    refused = await login("wrong", "10.6.6.6")
    body = assert_problem(refused, 429, "email")
    assert "account" in body["detail"] and 1 <= int(refused.headers["retry-after"]) <= 60
    # The right password from an unknown address is refused too (no oracle for guessers)...
    assert_problem(await login("correct horse", "10.7.7.7"), 429, "email")
    # ... but alice at an address she signed in from is not locked out by them.
    assert (await login("correct horse", "10.1.0.1")).status_code == 200
    # Per address: three more failures on other accounts spend 10.6.6.6's six.
    for n in range(3):
        assert_problem(await login("wrong", "10.6.6.6", f"nobody{n}@example.com"), 401)
    spent = await login("wrong", "10.6.6.6", "someone@example.com")
    assert "address" in assert_problem(spent, 429, "email")["detail"]
    assert_problem(await login("wrong", "10.2.0.2", "someone@example.com"), 401)
    if limited.services.settings.redis_url:  # across nodes: the counters live in Redis
        keys = redis_keys(limited.services.settings.namespace)
        assert any("login-account" in k for k in keys), keys
        assert any("login-address" in k for k in keys), keys


async def test_a_position_past_the_head_is_refused_at_once(api: Api) -> None:
    user = await api.register()
    channel = await api.channel(user)
    stream = await api.go_live(user, channel["id"])
    sent = (await api.send(user, stream["id"], "hello")).json()
    started = time.perf_counter()
    r = await api.http.get(f"/api/streams/{stream['id']}/messages",
                           params={"after": sent["position"] + 10_000})
    body = assert_problem(r, 400, "after")
    assert body["type"] == "/problems/position_ahead"
    assert time.perf_counter() - started < 1.0
    r = await api.http.get(f"/api/streams/{stream['id']}/messages",
                           params={"after": sent["position"]})
    assert r.status_code == 200 and r.json()["items"][0]["content"] == "hello"


@pytest.mark.parametrize("mode", ["embedded", "production"])
async def test_a_real_lag_still_answers_503(mode: str, tmp_path: Path) -> None:
    # No projectors run here: the read models stay behind every write.
    with serving(mode, tmp_path, workers="relay", read_wait_timeout_s=0.3) as live:
        client = Api(live.url, live.ws_url)
        try:
            user = await client.register()
            r = await client.http.get(f"/api/users/{user['id']}",
                                      params={"after": user["position"]})
            body = assert_problem(r, 503, "after")
            assert r.headers["retry-after"] == "1" and "not reached" in body["detail"]
        finally:
            await client.close()


async def test_router_answers_carry_a_request_id_and_are_logged(api: Api) -> None:
    with structlog.testing.capture_logs() as logs:
        missing = await api.http.get("/api/nowhere", headers={"x-request-id": "probe-404"})
        wrong = await api.http.delete("/api/auth/login")
    body = assert_problem(missing, 404)
    assert body["requestId"] == "probe-404" == missing.headers["x-request-id"]
    body = assert_problem(wrong, 405)
    assert body["requestId"] == wrong.headers["x-request-id"]
    seen = {(e.get("path"), e.get("status")) for e in logs if e.get("event") == "request"}
    assert {("/api/nowhere", 404), ("/api/auth/login", 405)} <= seen, logs


# -- no secret in the logs ------------------------------------------------------------------

@contextlib.contextmanager
def server_logs(json_logs: bool) -> Iterator[io.StringIO]:
    """Everything the service logs while the block runs, in the given format."""
    buffer = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with contextlib.redirect_stderr(buffer):
        configure_logging(json_logs=json_logs, level="DEBUG")
    try:
        yield buffer
    finally:
        structlog.reset_defaults()
        root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize("json_logs", [False, True], ids=["console", "json"])
@pytest.mark.parametrize("mode", ["embedded", "production"])
async def test_no_secret_reaches_the_logs(mode: str, json_logs: bool, tmp_path: Path) -> None:
    secrets: list[str] = ["deep-secret-pw"]
    with server_logs(json_logs) as out, serving(mode, tmp_path, **LIMITS) as live:
        client = Api(live.url, live.ws_url)
        try:
            password = f"pw-{uuid.uuid4().hex}"
            secrets.append(password)
            r = await client.http.post("/api/auth/register", json={
                "email": "logs@example.com", "username": "logs", "password": password})
            token = r.json()["token"]
            secrets.append(token)
            user = {"headers": {"Authorization": f"Bearer {token}"}, "token": token}
            login = await client.http.post("/api/auth/login", json={
                "email": "logs@example.com", "password": password})
            secrets.append(login.json()["token"])
            for _ in range(4):  # wrong passwords, then throttled
                await client.http.post("/api/auth/login", json={
                    "email": "logs@example.com", "password": password + "-wrong"})
            await client.http.post("/api/auth/register", content=DEEP,
                                   headers={"content-type": "application/json"})
            await client.http.post("/api/auth/register", content=DEEP,
                                   headers={"content-type": "text/plain"})
            channel = await client.channel(user)
            key = await client.http.get(f"/api/channels/{channel['id']}/stream-key",
                                        headers=user["headers"])
            secrets.append(key.json()["streamKey"])
            rotated = await client.http.post(
                f"/api/channels/{channel['id']}/stream-key/rotate", headers=user["headers"])
            secrets.append(rotated.json()["streamKey"])
            stream = await client.go_live(user, channel["id"])
            async with connect(
                    f"{live.ws_url}/ws/streams/{stream['id']}?token={token}") as ws:
                await next_event(ws, "chat:history")
                await ws.send(json.dumps({"event": "chat:send",
                                          "data": {"content": "hello logs"}}))
                await next_event(ws, "chat:message")
            await client.http.get("/api/nowhere", headers=user["headers"])
            ghost = forged_token(str(uuid.uuid4()))
            secrets.append(ghost)
            await client.http.get("/api/auth/user",
                                  headers={"Authorization": f"Bearer {ghost}"})
            await asyncio.sleep(0.2)
        finally:
            await client.close()
    text = out.getvalue()
    assert '"request"' in text or "request " in text, text[:2000]  # the run was logged
    assert "/api/auth/login" in text
    for secret in secrets:
        assert secret not in text, f"{secret[:12]}... in the logs"
