"""What a frontend on its own origin builds on, over real HTTP on both modes: CORS on every
route (preflights, actual requests, the router's own answers, Socket.IO), HTTP caching
(ETags and 304s on public reads, no-store on personal ones), one cursor convention,
bad query values answered 422 naming the parameter, and `?after=` on every read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import LiveServer, serving
from tests.integration.client import Api, assert_problem

APP = "http://app.example"
OTHER = "http://evil.example"


@pytest.fixture(params=["embedded", "production"])
def listed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """The service allowing two origins."""
    with serving(request.param, tmp_path, cors_origins=f"{APP}, http://second.example/") as live:
        yield live


@pytest.fixture
async def api(listed: LiveServer) -> AsyncIterator[Api]:
    client = Api(listed.url, listed.ws_url)
    yield client
    await client.close()


def cors_headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k.startswith("access-control-")}


def preflight(method: str, headers: str = "authorization, content-type",
              origin: str = APP) -> dict[str, str]:
    return {"origin": origin, "access-control-request-method": method,
            "access-control-request-headers": headers}


async def test_cors_for_a_listed_origin(api: Api) -> None:
    user = await api.register()
    r = await api.http.options("/api/channels", headers=preflight("POST"))
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "POST" in r.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "Origin" in r.headers["vary"] and r.headers["x-request-id"]

    # The actual request, from the page: its answer is readable, with the request id.
    r = await api.http.post("/api/channels", json={"slug": "cors-chan", "name": "Cors"},
                            headers={**user["headers"], "origin": APP})
    assert r.status_code == 201, r.text
    assert r.headers["access-control-allow-origin"] == APP
    exposed = r.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed and "etag" in exposed
    # Listed with a trailing slash and a space: still the same origin.
    r = await api.http.get("/api/auth/user", headers={**user["headers"],
                                                      "origin": "http://second.example"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://second.example"

    # Another origin gets nothing to let the browser hand the answer over.
    r = await api.http.options("/api/channels", headers=preflight("POST", origin=OTHER))
    assert not cors_headers(r), r.headers
    r = await api.http.get("/api/auth/user", headers={**user["headers"], "origin": OTHER})
    assert r.status_code == 200 and not cors_headers(r), r.headers
    assert "Origin" in r.headers["vary"]  # a cache keeps the two apart
    # No Origin at all (a server, curl): no CORS headers either.
    r = await api.http.get("/api/auth/user", headers=user["headers"])
    assert not cors_headers(r)


async def test_cors_on_the_routers_own_answers(api: Api) -> None:
    # A preflight for a path that does not exist is answered like any other, so that the
    # page can read the 404 that follows, with its request id.
    r = await api.http.options("/api/nowhere", headers=preflight("GET", "authorization"))
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == APP
    r = await api.http.get("/api/nowhere", headers={"origin": APP, "x-request-id": "cors-404"})
    body = assert_problem(r, 404)
    assert r.headers["access-control-allow-origin"] == APP
    assert body["requestId"] == "cors-404" == r.headers["x-request-id"]
    r = await api.http.delete("/api/auth/login", headers={"origin": APP})
    assert_problem(r, 405)
    assert r.headers["access-control-allow-origin"] == APP
    # A plain OPTIONS without a preflight's request method is the app's, not CORS's.
    r = await api.http.options("/api/auth/login", headers={"origin": OTHER})
    assert r.status_code == 204 and "POST" in r.headers["allow"] and not cors_headers(r)


async def test_socketio_follows_the_same_origins(api: Api) -> None:
    handshake = "/socket.io/?EIO=4&transport=polling"
    r = await api.http.get(handshake, headers={"origin": APP})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == APP
    r = await api.http.get(handshake, headers={"origin": OTHER})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers


async def test_a_wildcard_never_goes_with_credentials(tmp_path: Path) -> None:
    with serving("embedded", tmp_path, cors_origins="*") as live:
        client = Api(live.url, live.ws_url)
        try:
            r = await client.http.options("/api/channels", headers=preflight("POST"))
            assert r.status_code == 204
            assert r.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in r.headers
            r = await client.http.get("/health/live", headers={"origin": OTHER})
            assert r.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in r.headers
            r = await client.http.get("/socket.io/?EIO=4&transport=polling",
                                      headers={"origin": OTHER})
            assert r.status_code == 200
            assert "access-control-allow-credentials" not in r.headers
        finally:
            await client.close()


# -- HTTP caching ----------------------------------------------------------------------------

async def revalidate(api: Api, path: str, first: httpx.Response, **kwargs: Any) -> None:
    """A 304 for the tag `first` carries, with no body; still a 304 as a weak tag."""
    etag = first.headers["etag"]
    for tag in (etag, f"W/{etag}", f'"nope", {etag}'):
        again = await api.http.get(path, headers={"if-none-match": tag,
                                                  **kwargs.pop("headers", {})}, **kwargs)
        assert again.status_code == 304, (path, again.status_code, again.text)
        assert again.content == b"" and again.headers["etag"] == etag
        assert again.headers["cache-control"] == first.headers["cache-control"]
        assert again.headers["x-request-id"]


async def test_public_reads_answer_304_and_personal_ones_are_never_stored(api: Api) -> None:
    owner, fan = await api.register(), await api.register()
    channel = await api.channel(owner)
    stream = await api.go_live(owner, channel["id"])
    sent = (await api.send(owner, stream["id"], "hello")).json()
    assert "etag" not in (await api.send(owner, stream["id"], "commands are not tagged")).headers
    follow = await api.http.post(f"/api/channels/{channel['id']}/follow", headers=fan["headers"])
    after = {"after": follow.json()["position"]}

    # Live data: a second's freshness, then revalidated.
    page = await api.http.get(f"/api/channels/{channel['slug']}", params=after)
    assert page.status_code == 200 and page.headers["cache-control"] == "public, max-age=1"
    await revalidate(api, f"/api/channels/{channel['slug']}", page, params=after)
    history_path = f"/api/streams/{stream['id']}/messages"
    history = await api.http.get(history_path, params={"after": sent["position"]})
    assert history.headers["cache-control"] == "public, max-age=1"
    assert "Authorization" in history.headers["vary"]  # a token changes it (ignores)
    await revalidate(api, history_path, history, params={"after": sent["position"]})
    # Public data: stored but revalidated on every use.
    for path in (f"/api/streams/{stream['id']}", f"/api/channels/{channel['id']}/followers",
                 f"/api/users/{owner['id']}", f"/api/channels/{channel['id']}/vod"):
        first = await api.http.get(path, params=after)
        assert first.status_code == 200 and first.headers["cache-control"] == "no-cache", path
        await revalidate(api, path, first, params=after)
    # A change is a new tag: the old one gets the whole answer.
    old = page.headers["etag"]
    changed = await api.http.put(f"/api/channels/{channel['id']}", json={"name": "Renamed"},
                                 headers=owner["headers"])
    fresh = await api.http.get(f"/api/channels/{channel['slug']}", headers={"if-none-match": old},
                               params={"after": changed.json()["position"]})
    assert fresh.status_code == 200 and fresh.json()["name"] == "Renamed"
    assert fresh.headers["etag"] != old

    # Personal answers: never stored, never tagged.
    personal = [("/api/auth/user", {}), (f"/api/channels/{channel['id']}/stream-key", {}),
                (f"/api/channels/{channel['id']}/moderation-log", {}),
                (f"/api/channels/{channel['id']}/reports", {}), ("/api/subscriptions", {}),
                ("/api/ignores", {}), (history_path, {})]  # history as the viewer sees it
    for path, params in personal:
        r = await api.http.get(path, params=params, headers=owner["headers"])
        assert r.status_code == 200, (path, r.text)
        assert "no-store" in r.headers["cache-control"], path
        assert "etag" not in r.headers, path
        kept = await api.http.get(path, headers={**owner["headers"], "if-none-match": "*"})
        assert kept.status_code == 200, path
    # A public read sent with a token (a frontend sends it everywhere) is still public.
    r = await api.http.get(f"/api/users/{owner['id']}", headers=owner["headers"])
    assert r.headers["cache-control"] == "no-cache" and r.headers["etag"]


# -- one cursor convention; bad query values -------------------------------------------------

async def test_every_page_takes_a_cursor_and_the_old_name_still_works(api: Api) -> None:
    owner, mod = await api.register(), await api.register()
    channel = await api.channel(owner)
    stream = await api.go_live(owner, channel["id"])
    last = 0
    for i in range(5):
        last = (await api.send(owner, stream["id"], f"m{i}")).json()["position"]
    history = f"/api/streams/{stream['id']}/messages"

    async def walk(path: str, name: str, headers: dict[str, str] | None = None,
                   **params: Any) -> list[Any]:
        seen: list[Any] = []
        cursor = None
        while True:
            query = {**params, "limit": 2, **({name: cursor} if cursor else {})}
            r = await api.http.get(path, params=query, headers=headers or {})
            assert r.status_code == 200, r.text
            body = r.json()
            assert set(body) >= {"items", "nextCursor"}
            seen += body["items"]
            cursor = body["nextCursor"]
            if cursor is None:
                return seen

    contents = [m["content"] for m in await walk(history, "cursor", after=last)]
    assert contents == [f"m{i}" for i in reversed(range(5))]
    assert [m["content"] for m in await walk(history, "before", after=last)] == contents
    assert_problem(await api.http.get(history, params={"cursor": 5, "before": 4}), 422, "cursor")
    assert (await api.http.get(history, params={"cursor": 5, "before": 5})).status_code == 200

    for _ in range(2):  # four entries in the moderation log
        for method in ("put", "delete"):
            r = await api.http.request(method.upper(),
                                       f"/api/channels/{channel['id']}/moderators/{mod['id']}",
                                       headers=owner["headers"])
            assert r.status_code == 200, r.text
    for n in range(3):
        r = await api.http.post("/api/reports", headers=mod["headers"], json={
            "userId": owner["id"], "channelId": channel["id"], "reason": f"r{n}"})
        assert r.status_code == 201, r.text
    log = f"/api/channels/{channel['id']}/moderation-log"
    by_cursor = await walk(log, "cursor", owner["headers"], after=r.json()["position"])
    assert len(by_cursor) == 4
    assert await walk(log, "before", owner["headers"]) == by_cursor
    reports = f"/api/channels/{channel['id']}/reports"
    by_cursor = await walk(reports, "cursor", owner["headers"], after=r.json()["position"])
    assert [x["reason"] for x in by_cursor] == ["r2", "r1", "r0"]
    assert await walk(reports, "before", owner["headers"]) == by_cursor

    # The schema tells clients to move on from `before`.
    schema = (await api.http.get("/schema/openapi.json")).json()
    params = {p["name"]: p for p in schema["paths"]["/api/streams/{stream_id}/messages"]["get"][
        "parameters"]}
    assert params["before"]["schema"].get("deprecated") is True
    assert "deprecated" not in params["cursor"]["schema"]
    assert params["limit"]["schema"]["minimum"] == 1 and params["limit"]["schema"]["maximum"] == 100


async def test_bad_query_values_get_422_naming_the_parameter(api: Api) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    stream = await api.go_live(owner, channel["id"])
    pages = [f"/api/streams/{stream['id']}/messages",
             f"/api/channels/{channel['id']}/moderation-log",
             f"/api/channels/{channel['id']}/reports",
             f"/api/channels/{channel['id']}/followers",
             f"/api/users/{owner['id']}/followers", f"/api/users/{owner['id']}/following"]
    cases = [({"limit": 0}, "limit"), ({"limit": 1000}, "limit"), ({"limit": "ten"}, "limit"),
             ({"cursor": "abc"}, "cursor"), ({"cursor": 0}, "cursor")]
    for path in pages:
        for params, field in cases:
            r = await api.http.get(path, params=params, headers=owner["headers"])
            body = assert_problem(r, 422, field)
            assert body["type"] == "/problems/invalid", body
        for limit in (1, 100):
            r = await api.http.get(path, params={"limit": limit, "after": stream["position"]},
                                   headers=owner["headers"])
            assert r.status_code == 200, (path, r.text)
    for path in pages[:3]:
        r = await api.http.get(path, params={"before": "x"}, headers=owner["headers"])
        assert_problem(r, 422, "before")
    # Every read takes `?after=`: not a number is 422 too; past the log's head is 400.
    r = await api.http.get(f"/api/channels/{channel['id']}/vod", params={"after": "soon"})
    assert_problem(r, 422, "after")


async def test_every_read_takes_after_and_the_key_has_no_made_up_position(api: Api) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    stream = await api.go_live(owner, channel["id"])
    ended = await api.http.put(f"/api/streams/{stream['id']}/status", json={"status": "ENDING"},
                               headers=owner["headers"])
    archived = await api.http.put(f"/api/streams/{stream['id']}/status",
                                  json={"status": "ARCHIVED"}, headers=owner["headers"])
    assert ended.status_code == 200 and archived.status_code == 200, archived.text
    vod = f"/api/channels/{channel['id']}/vod"
    r = await api.http.get(vod, params={"after": archived.json()["position"]})
    assert r.status_code == 200 and [v["id"] for v in r.json()["items"]] == [stream["id"]]
    body = assert_problem(await api.http.get(vod, params={
        "after": archived.json()["position"] + 10_000}), 400, "after")
    assert body["type"] == "/problems/position_ahead"

    # Reads of the write model are always current: `after` returns at once, but a position
    # no write has made is refused there too.
    made = archived.json()["position"]
    for path in (f"/api/channels/{channel['id']}/stream-key", "/api/auth/user",
                 f"/api/channels/{channel['id']}/bans", f"/api/channels/{channel['id']}/filters"):
        r = await api.http.get(path, params={"after": made}, headers=owner["headers"])
        assert r.status_code == 200, (path, r.text)
        r = await api.http.get(path, params={"after": made + 10_000}, headers=owner["headers"])
        assert assert_problem(r, 400, "after")["type"] == "/problems/position_ahead", path

    key = await api.http.get(f"/api/channels/{channel['id']}/stream-key",
                             headers=owner["headers"])
    assert key.status_code == 200 and "position" not in key.json(), key.json()
    rotated = await api.http.post(f"/api/channels/{channel['id']}/stream-key/rotate",
                                  headers=owner["headers"])
    assert rotated.json()["position"] > archived.json()["position"]
