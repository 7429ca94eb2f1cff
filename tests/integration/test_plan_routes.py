"""The plan's routes and fields over real HTTP, both modes: a stream prepared OFFLINE and
taken LIVE by the owner's start or an encoder's publish, where a live stream plays, the
plan's `/api/stream/...` and `POST /api/messages` aliases refusing as their originals do,
one channel shape in every answer, channel art, and messages with `userId` and `badges`."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.harness import LiveServer
from tests.integration.client import Api, assert_problem, next_event


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[Api]:
    client = Api(server.url, server.ws_url)
    yield client
    await client.close()


def same_problem(a: httpx.Response, b: httpx.Response) -> None:
    """Two refusals alike but for where they were made (`instance`, the request id)."""
    assert (a.status_code, a.headers["content-type"]) == (b.status_code,
                                                          b.headers["content-type"])
    strip = {"instance", "requestId"}
    assert {k: v for k, v in a.json().items() if k not in strip} == {
        k: v for k, v in b.json().items() if k not in strip}


async def prepare(api: Api, owner: dict[str, Any], channel_id: str, path: str = "/api/streams",
                  **body: Any) -> httpx.Response:
    return await api.http.post(path, json={"channelId": channel_id, **body},
                               headers=owner["headers"])


async def test_a_prepared_stream_goes_live_by_the_owners_start(api: Api) -> None:
    owner, other = await api.register(), await api.register()
    channel = await api.channel(owner)
    cid = channel["id"]

    r = await prepare(api, owner, cid, title="Launch day", description="We ship",
                      category="Science")
    assert r.status_code == 201, r.text
    prepared = r.json()
    assert (prepared["status"], prepared["title"], prepared["description"],
            prepared["category"]) == ("OFFLINE", "Launch day", "We ship", "science")
    assert prepared["thumbnailUrl"] is None and prepared["startTime"] is None
    assert prepared["channelId"] == cid and prepared["hlsUrl"] is None

    # The read models show it: the stream, and the channel page's preparedStream.
    r = await api.http.get(f"/api/streams/{prepared['id']}?after={prepared['position']}")
    got = r.json()
    assert {k: v for k, v in got.items() if k != "updatedAt"} == {
        k: v for k, v in prepared.items() if k not in ("position", "updatedAt")}
    page = (await api.http.get(f"/api/channels/{channel['slug']}"
                               f"?after={prepared['position']}")).json()
    assert page["preparedStream"]["id"] == prepared["id"]
    assert page["currentStream"] is None and page["isLive"] is False

    # Someone else's token: refused, by both names, alike.
    original = await prepare(api, other, cid)
    assert_problem(original, 403)
    same_problem(original, await prepare(api, other, cid, path="/api/stream/create"))
    # A second prepare: 409 naming the channel and the prepared stream, by both names.
    second = await prepare(api, owner, cid, title="again")
    assert prepared["id"] in assert_problem(second, 409, "channelId")["detail"]
    same_problem(second, await prepare(api, owner, cid, path="/api/stream/create",
                                       title="again"))
    # Bad input names the field.
    assert_problem(await prepare(api, owner, "not-an-id"), 422, "channelId")
    assert_problem(await prepare(api, owner, cid, description="x" * 2001), 422, "description")
    assert_problem(await api.http.post("/api/streams", json={"title": "no channel"},
                                       headers=owner["headers"]), 422, "channelId")

    # Not live yet: nothing to play.
    hls = await api.http.get(f"/api/stream/{prepared['id']}/hls")
    assert_problem(hls, 409, "status")
    same_problem(hls, await api.http.get(f"/api/streams/{prepared['id']}/hls"))
    for path in (f"/api/stream/{prepared['id']}/hls", f"/api/stream/{prepared['id']}",
                 f"/api/streams/{prepared['id']}/hls", f"/api/channels/{channel['slug']}"):
        assert_problem(await api.http.get(f"{path}?after=soon"), 422, "after")

    live = await api.go_live(owner, cid, title="ignored: it was prepared")
    assert live["id"] == prepared["id"]
    assert (live["status"], live["title"], live["description"]) == (
        "LIVE", "Launch day", "We ship")
    page = (await api.http.get(f"/api/channels/{channel['slug']}"
                               f"?after={live['position']}")).json()
    assert page["currentStream"]["id"] == prepared["id"] and page["preparedStream"] is None
    # LIVE but no encoder has published: still nothing to play.
    assert_problem(await api.http.get(f"/api/stream/{live['id']}/hls"), 409, "status")

    # The plan's GET /api/stream/{id} is the same answer.
    a = await api.http.get(f"/api/streams/{live['id']}?after={live['position']}")
    b = await api.http.get(f"/api/stream/{live['id']}?after={live['position']}")
    assert a.json() == b.json()
    assert_problem(await api.http.get("/api/stream/00000000-0000-0000-0000-000000000000"),
                   404)


async def test_an_encoders_publish_takes_the_prepared_stream_live(api: Api) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    prepared = (await prepare(api, owner, channel["id"], title="From OBS")).json()
    key = (await api.http.get(f"/api/channels/{channel['id']}/stream-key",
                              headers=owner["headers"])).json()["streamKey"]
    r = await api.http.post("/webhooks/nginx-rtmp/on_publish",
                            data={"call": "publish", "name": key, "app": "live"})
    assert r.status_code == 302, r.text
    assert r.json()["streamId"] == prepared["id"]
    hls = await api.http.get(f"/api/stream/{prepared['id']}/hls?after={r.json()['position']}")
    assert hls.status_code == 200, hls.text
    body = hls.json()
    assert (body["streamId"], body["status"]) == (prepared["id"], "LIVE")
    assert body["hlsUrl"].endswith(f"{prepared['id']}.m3u8")
    assert body["qualities"]
    assert (await api.http.get(f"/api/streams/{prepared['id']}/hls"
                               f"?after={r.json()['position']}")).json() == body
    stream = (await api.http.get(f"/api/streams/{prepared['id']}")).json()
    assert (stream["title"], stream["hlsUrl"]) == ("From OBS", body["hlsUrl"])


async def test_ending_a_prepared_stream_discards_it(api: Api) -> None:
    owner, other = await api.register(), await api.register()
    channel = await api.channel(owner)
    prepared = (await prepare(api, owner, channel["id"])).json()
    sid = prepared["id"]

    refused = await api.http.post(f"/api/streams/{sid}/end", headers=other["headers"])
    assert_problem(refused, 403)
    same_problem(refused, await api.http.post("/api/stream/end", json={"streamId": sid},
                                              headers=other["headers"]))
    assert_problem(await api.http.post("/api/stream/end", json={"streamId": "nope"},
                                       headers=owner["headers"]), 422, "streamId")
    assert_problem(await api.http.post("/api/stream/end", json={"streamId": sid}), 401)

    r = await api.http.post("/api/stream/end", json={"streamId": sid}, headers=owner["headers"])
    assert r.status_code == 200, r.text
    ended = r.json()
    assert (ended["id"], ended["status"], ended["startTime"], ended["duration"]) == (
        sid, "ARCHIVED", None, 0)
    again = await api.http.post(f"/api/streams/{sid}/end", headers=owner["headers"])
    assert_problem(again, 409)
    same_problem(again, await api.http.post("/api/stream/end", json={"streamId": sid},
                                            headers=owner["headers"]))
    # The channel may prepare another; the discarded one never aired, so it is no VOD.
    assert (await prepare(api, owner, channel["id"])).status_code == 201
    vods = (await api.http.get(f"/api/channels/{channel['id']}/vod"
                               f"?after={ended['position']}")).json()["items"]
    assert sid not in [v["id"] for v in vods]


async def test_a_channel_answers_in_one_shape(api: Api) -> None:
    owner, other = await api.register(), await api.register()
    r = await api.http.post("/api/channels", json={"slug": "one-shape", "name": "One"},
                            headers=owner["headers"])
    assert r.status_code == 201, r.text
    created = r.json()
    page = (await api.http.get(f"/api/channels/one-shape?after={created['position']}")).json()
    assert set(created) - {"position"} == set(page)
    assert created["creator"] == page["creator"] == {
        "id": owner["id"], "username": owner["username"],
        "displayName": owner["username"].title()}
    assert created["streamUrl"] == page["streamUrl"] and page["streamUrl"].startswith("rtmp")
    key = (await api.http.get(f"/api/channels/{created['id']}/stream-key",
                              headers=owner["headers"])).json()["streamKey"]
    assert key not in r.text and key not in str(page)
    assert (created["avatar"], created["banner"], created["currentStream"]) == (None, None, None)

    r = await api.http.put(f"/api/channels/{created['id']}", json={"name": "Renamed"},
                           headers=owner["headers"])
    updated = r.json()
    assert set(updated) == set(created) and updated["name"] == "Renamed"
    live = await api.go_live(owner, created["id"])
    r = await api.http.put(f"/api/channels/{created['id']}", json={"description": "On air"},
                           headers=owner["headers"])
    assert r.json()["currentStream"]["id"] == live["id"] and r.json()["isLive"] is True
    assert_problem(await api.http.put(f"/api/channels/{created['id']}", json={"name": "Mine"},
                                      headers=other["headers"]), 403)


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


def stored(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_channel_art_is_the_owners_upload(api: Api, tmp_path: Path) -> None:
    uploads = tmp_path / "var" / "uploads"
    owner, other = await api.register(), await api.register()
    channel = await api.channel(owner)
    cid = channel["id"]

    def files(content: bytes) -> dict[str, Any]:
        return {"file": ("art.png", content, "image/png")}

    r = await api.http.post(f"/api/channels/{cid}/avatar", files=files(png()),
                            headers=other["headers"])
    assert_problem(r, 403)
    assert_problem(await api.http.post(f"/api/channels/{cid}/avatar", files=files(png())), 401)
    assert_problem(await api.http.post(f"/api/channels/{cid}/banner",
                                       files=files(b"not an image at all"),
                                       headers=owner["headers"]), 422)
    assert_problem(await api.http.post(f"/api/channels/{cid}/banner",
                                       files={"other": ("a.png", png(), "image/png")},
                                       headers=owner["headers"]), 422, "file")
    assert stored(uploads) == []  # nothing refused was kept

    avatar = (await api.http.post(f"/api/channels/{cid}/avatar", files=files(png()),
                                  headers=owner["headers"])).json()
    banner = await api.http.post(f"/api/channels/{cid}/banner", files=files(png((90, 30))),
                                 headers=owner["headers"])
    assert banner.status_code == 201, banner.text
    banner_body = banner.json()
    assert (avatar["kind"], avatar["channelId"], banner_body["width"]) == ("avatar", cid, 90)
    page = (await api.http.get(f"/api/channels/{channel['slug']}"
                               f"?after={banner_body['position']}")).json()
    assert (page["avatar"], page["banner"]) == (avatar["url"], banner_body["url"])
    assert (await api.http.get(avatar["url"])).status_code == 200
    assert len(stored(uploads)) == 2
    # The owner's profile images are another thing.
    me = (await api.http.get("/api/auth/user", headers=owner["headers"])).json()
    assert me.get("avatar") in (None, "") or me["avatar"] != avatar["url"]


async def test_post_api_messages_is_the_streams_send(api: Api) -> None:
    owner, viewer = await api.register(), await api.register()
    channel = await api.channel(owner)
    live = await api.go_live(owner, channel["id"])
    sid = live["id"]
    ws = await api.subscribe(sid)
    try:
        r = await api.http.post("/api/messages", json={"streamId": sid, "content": "hi all"},
                                headers=owner["headers"])
        assert r.status_code == 201, r.text
        sent = r.json()
        assert (sent["userId"], sent["badges"], sent["deletedAt"]) == (
            owner["id"], ["broadcaster"], None)
        assert sent["user"]["badges"] == sent["badges"]
        frame = await next_event(ws, "chat:message")
        assert frame == sent  # one shape on the socket
        other = (await api.send(viewer, sid, "hello")).json()
        assert set(other) == set(sent) and other["badges"] == []
        history = (await api.http.get(f"/api/streams/{sid}/messages"
                                      f"?after={other['position']}")).json()["items"]
        assert [m["id"] for m in history] == [other["id"], sent["id"]]
        assert history[1] == sent
    finally:
        await ws.close()

    # Deleted messages: left out, but for the channel's staff, who see when.
    gone = await api.http.delete(f"/api/messages/{other['id']}", headers=owner["headers"])
    assert gone.status_code == 200, gone.text
    at = f"after={gone.json()['position']}"
    page = (await api.http.get(f"/api/streams/{sid}/messages?{at}")).json()["items"]
    assert [m["id"] for m in page] == [sent["id"]]
    staff = await api.http.get(f"/api/streams/{sid}/messages?includeDeleted=true&{at}",
                               headers=owner["headers"])
    assert staff.status_code == 200, staff.text
    assert staff.headers["cache-control"] == "no-store"
    items = staff.json()["items"]
    assert [m["id"] for m in items] == [other["id"], sent["id"]]
    assert items[0]["deletedAt"] == gone.json()["deletedAt"] and items[1]["deletedAt"] is None
    assert_problem(await api.http.get(f"/api/streams/{sid}/messages?includeDeleted=true",
                                      headers=viewer["headers"]), 403, "includeDeleted")
    assert_problem(await api.http.get(f"/api/streams/{sid}/messages?includeDeleted=true"),
                   401, "includeDeleted")

    # Refusals alike: empty content, an unknown stream, another user's ban, no token.
    for content in ("   ", "x" * 501):
        original = await api.send(viewer, sid, content)
        assert original.status_code == 422, original.text
        same_problem(original, await api.http.post(
            "/api/messages", json={"streamId": sid, "content": content},
            headers=viewer["headers"]))
    unknown = "00000000-0000-0000-0000-000000000000"
    same_problem(await api.send(viewer, unknown, "hi"), await api.http.post(
        "/api/messages", json={"streamId": unknown, "content": "hi"},
        headers=viewer["headers"]))
    assert_problem(await api.http.post("/api/messages", json={"streamId": "x", "content": "a"},
                                       headers=viewer["headers"]), 422, "streamId")
    assert_problem(await api.http.post("/api/messages", json={"streamId": sid,
                                                              "content": "a"}), 401)
    r = await api.http.post("/api/users/{}/block".format(viewer["id"]),
                            json={"channelId": channel["id"]}, headers=owner["headers"])
    assert r.status_code in (200, 201), r.text
    banned = await api.send(viewer, sid, "let me in")
    assert banned.status_code == 403, banned.text
    same_problem(banned, await api.http.post(
        "/api/messages", json={"streamId": sid, "content": "let me in"},
        headers=viewer["headers"]))


async def test_post_api_messages_is_rate_limited_with_the_same_limit(
        tmp_path: Path) -> None:
    from tests.harness import serving

    with serving("embedded", tmp_path, chat_rate_limit="2 per 30 seconds") as live:
        api = Api(live.url, live.ws_url)
        try:
            owner = await api.register()
            channel = await api.channel(owner)
            sid = (await api.go_live(owner, channel["id"]))["id"]
            assert (await api.send(owner, sid, "one")).status_code == 201
            r = await api.http.post("/api/messages", json={"streamId": sid, "content": "two"},
                                    headers=owner["headers"])
            assert r.status_code == 201, r.text
            limited = await api.send(owner, sid, "three")
            assert_problem(limited, 429)
            same_problem(limited, await api.http.post(
                "/api/messages", json={"streamId": sid, "content": "three"},
                headers=owner["headers"]))
        finally:
            await api.close()
