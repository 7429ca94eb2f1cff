"""Discovery over real HTTP, embedded and on the production services: channels (live first
by viewers, then by followers; filtered by live, category, tag, name), streams by status,
categories with their live counts, each item the shape of its own route; paging by opaque
cursor, bad input answered 4xx naming the field, and `?after=` reading one's own write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.harness import LiveServer, serving
from tests.integration.client import Api, assert_problem

FAST = {"viewer_sample_s": 0.2, "presence_heartbeat_s": 0.5}


@pytest.fixture(params=["embedded", "production"])
def discovery_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    with serving(request.param, tmp_path, **FAST) as live:
        yield live


@pytest.fixture
async def api(discovery_server: LiveServer) -> AsyncIterator[Api]:
    client = Api(discovery_server.url, discovery_server.ws_url)
    yield client
    await client.close()


async def until(read: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 20) -> Any:
    """Reads until `ok` holds (the sampler and the projectors are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await read()
        if ok(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def get_json(api: Api, path: str, **params: Any) -> Any:
    r = await api.http.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def walk(api: Api, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, a page of `limit` at a time."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = await get_json(api, path, limit=limit, **params,
                              **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return items
        assert isinstance(cursor, str)
    raise AssertionError("the walk never ended")


async def test_channels_streams_and_categories(api: Api) -> None:
    tag = f"speedrun{id(api) % 1000}"
    owners = [await api.register() for _ in range(4)]
    big = await api.channel(owners[0], "big-games")        # live, two viewers
    small = await api.channel(owners[1], "small-games")    # live, one viewer
    popular = await api.channel(owners[2], "popular-tunes")  # offline, two followers
    hidden = await api.channel(owners[3], "hidden-games")   # private: never listed
    for channel, category, tags, public in ((big, "games", [tag, "fun"], True),
                                            (small, "games", [], True),
                                            (popular, "music", [], True),
                                            (hidden, "games", [tag], False)):
        r = await api.http.put(f"/api/channels/{channel['id']}", json={
            "category": category, "tags": tags, "isPublic": public},
            headers=owners[[big, small, popular, hidden].index(channel)]["headers"])
        assert r.status_code == 200, r.text
    fans = [await api.register() for _ in range(2)]
    for fan in fans:
        r = await api.http.post(f"/api/channels/{popular['id']}/follow", headers=fan["headers"])
        assert r.status_code == 200, r.text
    r = await api.http.post(f"/api/channels/{big['id']}/follow", headers=fans[0]["headers"])
    big_stream = await api.go_live(owners[0], big["id"], "big one")
    small_stream = await api.go_live(owners[1], small["id"], "small one")
    hidden_stream = await api.go_live(owners[3], hidden["id"], "nobody sees")
    viewers: list[ClientConnection] = []
    try:
        viewers += [await api.subscribe(big_stream["id"]) for _ in range(2)]
        viewers += [await api.subscribe(small_stream["id"])]
        mine = {big["id"], small["id"], popular["id"], hidden["id"]}

        async def ours() -> list[dict[str, Any]]:
            page = await get_json(api, "/api/channels", limit=100)
            return [c for c in page["items"] if c["id"] in mine]

        listed = await until(ours, lambda cs: [(c["slug"], c["viewerCount"]) for c in cs] == [
            ("big-games", 2), ("small-games", 1), ("popular-tunes", 0)])
        assert [(c["slug"], c["viewerCount"]) for c in listed] == [
            ("big-games", 2), ("small-games", 1), ("popular-tunes", 0)], listed
        assert [c["isLive"] for c in listed] == [True, True, False]
        assert listed[2]["followerCount"] == 2

        # The same shape as the channel's own page (each projector at its own pace:
        # read both until they agree).
        async def both() -> tuple[Any, Any]:
            return (await ours())[0], await get_json(api, "/api/channels/big-games")

        first, page = await until(both, lambda pair: pair[0] == pair[1])
        assert first == page

        live = await get_json(api, "/api/channels", live="true", limit=100)
        assert all(c["isLive"] for c in live["items"])
        assert [c["slug"] for c in live["items"] if c["id"] in mine] == ["big-games",
                                                                         "small-games"]
        offline = await get_json(api, "/api/channels", live="false", limit=100)
        assert not any(c["isLive"] for c in offline["items"])
        assert popular["id"] in {c["id"] for c in offline["items"]}
        games = await get_json(api, "/api/channels", category="games", limit=100)
        assert [c["slug"] for c in games["items"]] == ["big-games", "small-games"]
        tagged = await get_json(api, "/api/channels", tag=tag.upper())
        assert [c["slug"] for c in tagged["items"]] == ["big-games"]
        named = await get_json(api, "/api/channels", q="TUNES")
        assert [c["slug"] for c in named["items"]] == ["popular-tunes"]
        by_name = await get_json(api, "/api/channels", q="Popular-T")  # the name, any case
        assert [c["slug"] for c in by_name["items"]] == ["popular-tunes"]
        assert (await get_json(api, "/api/channels", q="%"))["items"] == []  # literally

        # A walk a page at a time gives the same list, nothing twice or left out.
        everything = await get_json(api, "/api/channels", limit=100)
        assert await walk(api, "/api/channels", 1) == everything["items"]
        assert hidden["id"] not in {c["id"] for c in everything["items"]}

        streams = await until(
            lambda: get_json(api, "/api/streams", status="LIVE", limit=100),
            lambda s: [x["id"] for x in s["items"]][:2] == [big_stream["id"],
                                                            small_stream["id"]])
        ids = [s["id"] for s in streams["items"]]
        assert ids == [big_stream["id"], small_stream["id"]]
        assert hidden_stream["id"] not in ids
        async def stream_both() -> tuple[Any, Any]:
            listed = await get_json(api, "/api/streams", status="LIVE", limit=1)
            return listed["items"][0], await get_json(api, f"/api/streams/{big_stream['id']}")

        first, one = await until(stream_both, lambda pair: pair[0] == pair[1])
        assert first == one  # the shape of the stream's own route
        assert await walk(api, "/api/streams", 1, status="LIVE") == streams["items"]

        r = await api.http.post(f"/api/streams/{small_stream['id']}/end",
                                headers=owners[1]["headers"])
        assert r.status_code == 200, r.text
        ending = await get_json(api, "/api/streams", status="ENDING",
                                after=r.json()["position"])
        assert [s["id"] for s in ending["items"]] == [small_stream["id"]]
        everything = await get_json(api, "/api/streams", limit=100)
        assert {big_stream["id"], small_stream["id"]} <= {s["id"] for s in everything["items"]}

        categories = await until(
            lambda: get_json(api, "/api/categories", limit=100),
            lambda c: {x["name"]: x for x in c["items"]}.get("games", {}).get("liveCount") == 1)
        by_name_ = {c["name"]: c for c in categories["items"]}
        assert by_name_["games"] == {"name": "games", "channelCount": 2, "liveCount": 1,
                                     "viewerCount": 2}
        assert by_name_["music"] == {"name": "music", "channelCount": 1, "liveCount": 0,
                                     "viewerCount": 0}
        assert categories["items"][0]["name"] == "games"  # the most watched first
        assert await walk(api, "/api/categories", 1) == categories["items"]
    finally:
        for ws in viewers:
            await ws.close()


async def test_a_write_is_listed_when_read_after_its_position(api: Api) -> None:
    owner = await api.register()
    channel = await api.channel(owner, "fresh-one")
    found = await get_json(api, "/api/channels", q="fresh-one", after=channel["position"])
    assert [c["id"] for c in found["items"]] == [channel["id"]]
    stream = await api.go_live(owner, channel["id"])
    live = await get_json(api, "/api/streams", status="LIVE", after=stream["position"])
    assert stream["id"] in [s["id"] for s in live["items"]]
    categories = await get_json(api, "/api/categories", after=stream["position"])
    assert any(c["name"] == "just-chatting" and c["liveCount"] >= 1
               for c in categories["items"])


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/channels", {"live": "maybe"}, "live"),
    ("/api/channels", {"limit": "0"}, "limit"),
    ("/api/channels", {"limit": "1000"}, "limit"),
    ("/api/channels", {"limit": "many"}, "limit"),
    ("/api/streams", {"status": "SLEEPING"}, "status"),
    ("/api/streams", {"limit": "101"}, "limit"),
    ("/api/categories", {"limit": "0"}, "limit"),
])
async def test_bad_query_values_are_refused_naming_the_field(
        api: Api, path: str, params: dict[str, str], field: str) -> None:
    assert_problem(await api.http.get(path, params=params), 422, field)


@pytest.mark.parametrize("cursor", ["garbled!", "bm90IGpzb24", "e30", "WyJhIiwxLDEsImIiXQ"])
async def test_a_cursor_this_api_did_not_give_is_refused(api: Api, cursor: str) -> None:
    for path in ("/api/channels", "/api/streams", "/api/categories"):
        assert_problem(await api.http.get(path, params={"cursor": cursor}), 422, "cursor")


async def test_the_lists_are_documented(api: Api) -> None:
    schema = (await api.http.get("/schema/openapi.json")).json()
    operations = {op["operationId"]: (path, op) for path, item in schema["paths"].items()
                  for op in item.values() if isinstance(op, dict) and "operationId" in op}
    for name, path in (("listChannels", "/api/channels"), ("listStreams", "/api/streams"),
                       ("listCategories", "/api/categories"),
                       ("listChatters", "/api/streams/{stream_id}/chatters")):
        assert operations[name][0] == path, operations.get(name)
        op = operations[name][1]
        assert "422" in op["responses"] and "200" in op["responses"]
        cursor = next(p for p in op["parameters"] if p["name"] == "cursor")
        assert cursor["schema"].get("type") == "string" or any(
            s.get("type") == "string" for s in cursor["schema"].get("oneOf", []))
    # The channel list's POST neighbour is still there.
    assert "post" in schema["paths"]["/api/channels"]


async def test_the_lists_are_cached_as_live_data(api: Api) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    stream = await api.go_live(owner, channel["id"])
    for path in ("/api/channels", "/api/streams", "/api/categories",
                 f"/api/streams/{stream['id']}/chatters"):
        r = await api.http.get(path, params={"after": stream["position"]})
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "public, max-age=1", (path, r.headers)
        again = await api.http.get(path, params={"after": stream["position"]},
                                   headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304, path
