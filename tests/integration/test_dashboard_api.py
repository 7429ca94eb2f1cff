"""What the web client's dashboard and follow button read, over real HTTP on both modes:
the caller's own channels (private ones too, nobody else's) and whether the caller follows
a channel; each answer checked against its documented schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.harness import LiveServer, serving
from tests.integration.client import Api, assert_problem


@pytest.fixture(params=["embedded", "production"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    with serving(request.param, tmp_path) as server:
        yield server


@pytest.fixture
async def api(live: LiveServer) -> AsyncIterator[Api]:
    client = Api(live.url, live.ws_url)
    yield client
    await client.close()


async def test_my_channels_lists_the_callers_channels_private_ones_too(api: Api) -> None:
    owner, other = await api.register(), await api.register()
    first = await api.channel(owner)
    r = await api.http.post("/api/channels", headers=owner["headers"], json={
        "slug": f"{first['slug']}-hidden", "name": "Hidden", "isPublic": False})
    assert r.status_code == 201, r.text
    hidden = r.json()
    theirs = await api.channel(other)

    r = await api.http.get("/api/auth/channels", headers=owner["headers"],
                           params={"after": hidden["position"]})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    items = r.json()["items"]
    assert [c["id"] for c in items] == [first["id"], hidden["id"]]  # oldest first
    assert items[1]["isPublic"] is False and items[0]["creator"]["id"] == owner["id"]

    # Another caller sees their own, never these; without a token: 401.
    r = await api.http.get("/api/auth/channels", headers=other["headers"],
                           params={"after": theirs["position"]})  # their own write, read
    assert [c["creator"]["id"] for c in r.json()["items"]] == [other["id"]]
    assert_problem(await api.http.get("/api/auth/channels"), 401)
    fresh = await api.register()
    r = await api.http.get("/api/auth/channels", headers=fresh["headers"])
    assert r.status_code == 200 and r.json() == {"items": []}
    assert_problem(await api.http.get("/api/auth/channels", headers=owner["headers"],
                                      params={"after": "soon"}), 422, "after")


async def test_follow_state_is_the_callers_own(api: Api) -> None:
    owner, fan, other = await api.register(), await api.register(), await api.register()
    channel = await api.channel(owner)
    path = f"/api/channels/{channel['id']}/follow"

    r = await api.http.get(path, headers=fan["headers"])
    assert r.status_code == 200, r.text
    assert r.json() == {"channelId": channel["id"], "following": False, "followedAt": None}
    assert r.headers["cache-control"] == "no-store"

    followed = await api.http.post(path, headers=fan["headers"])
    assert followed.status_code == 200, followed.text
    after = {"after": followed.json()["position"]}
    r = await api.http.get(path, headers=fan["headers"], params=after)
    assert r.json()["following"] is True and r.json()["followedAt"]
    # Someone else's state is theirs: the fan's follow is not another caller's.
    r = await api.http.get(path, headers=other["headers"], params=after)
    assert r.json()["following"] is False

    unfollowed = await api.http.delete(path, headers=fan["headers"])
    r = await api.http.get(path, headers=fan["headers"],
                           params={"after": unfollowed.json()["position"]})
    assert r.json()["following"] is False and r.json()["followedAt"] is None

    assert_problem(await api.http.get(path), 401)
    assert_problem(await api.http.get("/api/channels/not-an-id/follow",
                                      headers=fan["headers"]), 404)
