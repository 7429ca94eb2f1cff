"""CORS as a real browser enforces it: headless Chromium (Debian's /usr/bin/chromium, driven
by Playwright) loads a page from another origin, which calls the API with a bearer token.
From a listed origin the calls work and their answers are readable; from any other, the
browser blocks them, and a call that needs a preflight never reaches the route."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.harness import LiveServer, serving
from tests.integration.browser_support import chromium
from tests.integration.client import Api

PAGE = b"<!doctype html><title>frontend</title><p>a frontend on its own origin</p>"

# What the page runs: a fetch, its outcome as data (a blocked call rejects with TypeError).
CALL = """async ([url, init]) => {
  try {
    const r = await fetch(url, init);
    return {ok: true, status: r.status, body: await r.json(),
            requestId: r.headers.get("x-request-id")};
  } catch (e) {
    return {ok: false, error: String(e)};
  }
}"""


def port(origin: str) -> str:
    return origin.rsplit(":", 1)[1]


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def pages() -> Iterator[tuple[str, str]]:
    """Two page origins, one to be listed and one not: two ports of a small server."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Page) for _ in range(2)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        allowed, other = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
        yield allowed, other
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


@pytest.fixture(params=["embedded", "production"])
def live(request: pytest.FixtureRequest, tmp_path: Path,
         pages: tuple[str, str]) -> Iterator[LiveServer]:
    with serving(request.param, tmp_path, cors_origins=pages[0]) as server:
        yield server


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        instance = await p.chromium.launch(executable_path=path, headless=True)
        try:
            yield instance
        finally:
            await instance.close()


async def test_a_listed_origin_calls_the_api_and_another_is_blocked(
        live: LiveServer, pages: tuple[str, str], browser: Any) -> None:
    allowed, other = pages
    api = Api(live.url, live.ws_url)
    try:
        user = await api.register()
        auth = {"Authorization": f"Bearer {user['token']}"}
        results: dict[str, list[dict[str, Any]]] = {}
        for origin in (allowed, other):
            page = await browser.new_page()
            await page.goto(origin)
            results[origin] = [
                await page.evaluate(CALL, [f"{live.url}/api/auth/user", {"headers": auth}]),
                # JSON with a token: a preflight first, then the POST itself.
                await page.evaluate(CALL, [f"{live.url}/api/channels", {
                    "method": "POST", "body": f'{{"slug": "from-{port(origin)}", "name": "B"}}',
                    "headers": {**auth, "Content-Type": "application/json"}}]),
                # No custom header (no preflight): sent, but its answer kept from the page.
                await page.evaluate(CALL, [f"{live.url}/health/live", {}]),
                # The router's own 404, readable with its request id.
                await page.evaluate(CALL, [f"{live.url}/api/nowhere", {"headers": auth}]),
            ]
            await page.close()

        me, created, health, missing = results[allowed]
        assert me["ok"] and me["status"] == 200, me
        assert me["body"]["username"] == user["username"] and me["requestId"]
        assert created["ok"] and created["status"] == 201, created
        assert health["ok"] and health["body"] == {"status": "ok"}
        assert missing["ok"] and missing["status"] == 404, missing
        assert missing["body"]["requestId"] == missing["requestId"]

        for outcome in results[other]:
            assert not outcome["ok"] and "TypeError" in outcome["error"], outcome
        # The blocked POST's preflight was refused, so the route never ran (read once the
        # read models have seen a write made after every call).
        after = {"after": (await api.register())["position"]}
        r = await api.http.get(f"/api/channels/from-{port(other)}", params=after)
        assert r.status_code == 404, r.text
        r = await api.http.get(f"/api/channels/from-{port(allowed)}", params=after)
        assert r.status_code == 200, r.text
    finally:
        await api.close()
