"""The whole path of an event, end to end, on both modes: HTTP command -> event store ->
relay -> bus -> projectors -> read API and WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.harness import LiveServer
from tests.integration.client import Api, assert_problem, next_event


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[Api]:
    client = Api(server.url, server.ws_url)
    yield client
    await client.close()


async def test_register_login_and_who_am_i(api: Api) -> None:
    alice = await api.register("alice")
    r = await api.http.post("/api/auth/login",
                            json={"email": "ALICE@example.com", "password": "correct horse"})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    me = await api.http.get("/api/auth/user", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "alice" and me.json()["id"] == alice["id"]

    wrong = await api.http.post("/api/auth/login",
                                json={"email": "alice@example.com", "password": "nope nope"})
    assert_problem(wrong, 401)
    nobody = await api.http.post("/api/auth/login",
                                 json={"email": "bob@example.com", "password": "correct horse"})
    assert_problem(nobody, 401)
    assert_problem(await api.http.get("/api/auth/user"), 401)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert_problem(await api.http.get("/api/auth/user",
                                      headers={"Authorization": f"Bearer {forged}"}), 401)

    taken = await api.http.post("/api/auth/register", json={
        "email": "other@example.com", "username": "ALICE", "password": "correct horse"})
    assert_problem(taken, 409, "username")
    short = await api.http.post("/api/auth/register", json={
        "email": "x@example.com", "username": "xavier", "password": "short"})
    assert_problem(short, 422, "password")
    missing = await api.http.post("/api/auth/register", json={"email": "x@example.com"})
    body = assert_problem(missing, 422)
    assert body["field"] in {"username", "password"}


async def test_channel_create_read_update_and_authorization(api: Api) -> None:
    owner = await api.register()
    other = await api.register()
    created = await api.channel(owner, "My-Show")
    assert created["slug"] == "my-show" and "streamKey" not in created

    page = await api.http.get("/api/channels/my-show", params={"after": created["position"]})
    assert page.status_code == 200, page.text
    view = page.json()
    assert view["id"] == created["id"] and view["isLive"] is False
    assert view["creator"]["id"] == owner["id"]
    assert "stream_key" not in page.text and "streamKey" not in page.text

    dup = await api.http.post("/api/channels", json={"slug": "my-show", "name": "Again"},
                              headers=other["headers"])
    assert_problem(dup, 409, "slug")
    bad_slug = await api.http.post("/api/channels", json={"slug": "-x-", "name": "Bad"},
                                   headers=owner["headers"])
    assert_problem(bad_slug, 422, "slug")
    wrong_type = await api.http.post("/api/channels", json={"slug": "fine-slug", "name": 5},
                                     headers=owner["headers"])
    assert_problem(wrong_type, 422, "name")
    not_json = await api.http.post("/api/channels", content=b"{nope",
                                   headers={**owner["headers"], "content-type": "application/json"})
    assert not_json.status_code in (400, 422)
    assert not_json.headers["content-type"].startswith("application/problem+json")

    forbidden = await api.http.put(f"/api/channels/{created['id']}", json={"name": "Mine now"},
                                   headers=other["headers"])
    assert_problem(forbidden, 403)
    updated = await api.http.put(f"/api/channels/{created['id']}",
                                 json={"name": "Renamed", "tags": ["Chill", "chill", "music"]},
                                 headers=owner["headers"])
    assert updated.status_code == 200, updated.text
    page = await api.http.get("/api/channels/my-show", params={"after": updated.json()["position"]})
    assert page.json()["name"] == "Renamed" and page.json()["tags"] == ["chill", "music"]

    assert_problem(await api.http.get("/api/channels/nope-nope"), 404)
    assert_problem(await api.http.put("/api/channels/not-a-uuid", json={"name": "x"},
                                      headers=owner["headers"]), 404)
    assert_problem(await api.http.post("/api/channels", json={"slug": "anon", "name": "Anon"}), 401)


async def test_go_live_chat_delete_end_archive(api: Api, server: LiveServer) -> None:
    owner = await api.register()
    viewer = await api.register()
    stranger = await api.register()
    channel = await api.channel(owner)

    assert_problem(await api.http.post(f"/api/streams/{channel['id']}/start", json={},
                                       headers=viewer["headers"]), 403)
    stream = await api.go_live(owner, channel["id"], title="First stream")
    assert stream["status"] == "LIVE"
    sid = stream["id"]
    again = await api.http.post(f"/api/streams/{channel['id']}/start", json={},
                                headers=owner["headers"])
    assert_problem(again, 409)

    read = await api.http.get(f"/api/streams/{sid}", params={"after": stream["position"]})
    assert read.status_code == 200 and read.json()["status"] == "LIVE"
    assert read.json()["startTime"]
    page = await api.http.get(f"/api/channels/{channel['slug']}",
                              params={"after": stream["position"]})
    assert page.json()["isLive"] is True and page.json()["currentStream"]["id"] == sid

    ws = await api.subscribe(sid)
    try:
        sent = await api.send(viewer, sid, "  hello\x07 world  ")
        assert sent.status_code == 201, sent.text
        msg = sent.json()
        assert msg["content"] == "hello world" and msg["user"]["username"] == viewer["username"]
        pushed = await next_event(ws, "chat:message")
        assert pushed["id"] == msg["id"] and pushed["content"] == "hello world"
        assert pushed["user"]["displayName"] == viewer["username"].title()

        by_owner = await api.send(owner, sid, "welcome!")
        assert by_owner.json()["user"]["badges"] == ["broadcaster"]

        history = await api.http.get(f"/api/streams/{sid}/messages",
                                     params={"after": by_owner.json()["position"]})
        assert [m["content"] for m in history.json()["items"]] == ["welcome!", "hello world"]

        assert_problem(await api.send(viewer, sid, "x" * 501), 422, "content")
        assert_problem(await api.send(viewer, sid, "   \n\t "), 422, "content")
        assert_problem(await api.http.post(f"/api/streams/{sid}/messages",
                                           json={"content": "anon"}), 401)

        assert_problem(await api.http.delete(f"/api/messages/{msg['id']}",
                                             headers=stranger["headers"]), 403)
        deleted = await api.http.delete(f"/api/messages/{msg['id']}", headers=owner["headers"])
        assert deleted.status_code == 200 and deleted.json()["deleted"] is True
        gone = await next_event(ws, "chat:deleted")
        assert gone["messageId"] == msg["id"]
        history = await api.http.get(f"/api/streams/{sid}/messages",
                                     params={"after": deleted.json()["position"]})
        assert [m["content"] for m in history.json()["items"]] == ["welcome!"]
        # Deleting again (here by its author) is harmless: no new event, the first
        # deletion's time stands, the history is as it was.
        twice = await api.http.delete(f"/api/messages/{msg['id']}", headers=viewer["headers"])
        assert twice.status_code == 200, twice.text
        assert twice.json()["position"] == 0
        assert twice.json()["deletedAt"] == deleted.json()["deletedAt"] is not None
        events, _ = server.services.store.read(0, 100_000, types=("ChatMessage.Deleted",))
        assert [e.aggregate_id for e in events] == [msg["id"]]
        history = await api.http.get(f"/api/streams/{sid}/messages",
                                     params={"after": deleted.json()["position"]})
        assert [m["content"] for m in history.json()["items"]] == ["welcome!"]

        assert_problem(await api.http.post(f"/api/streams/{sid}/end",
                                           headers=viewer["headers"]), 403)
        ended = await api.http.post(f"/api/streams/{sid}/end", headers=owner["headers"])
        assert ended.status_code == 200 and ended.json()["status"] == "ENDING"
        status = await next_event(ws, "stream:status")
        while status["status"] != "ENDING":
            status = await next_event(ws, "stream:status")
        assert status["endTime"] and status["duration"] is not None
    finally:
        await ws.close()

    assert_problem(await api.send(viewer, sid, "too late"), 409, "streamId")
    assert_problem(await api.http.put(f"/api/streams/{sid}/status", json={"status": "LIVE"},
                                      headers=owner["headers"]), 409, "status")
    assert_problem(await api.http.put(f"/api/streams/{sid}/status", json={"status": "PAUSED"},
                                      headers=owner["headers"]), 422, "status")
    archived = await api.http.put(f"/api/streams/{sid}/status", json={"status": "ARCHIVED"},
                                  headers=owner["headers"])
    assert archived.status_code == 200 and archived.json()["status"] == "ARCHIVED"
    final = await api.http.get(f"/api/streams/{sid}", params={"after": archived.json()["position"]})
    assert final.json()["status"] == "ARCHIVED" and final.json()["isArchived"] is True

    # The channel is free again: a new stream can start.
    second = await api.go_live(owner, channel["id"])
    assert second["id"] != sid

    assert_problem(await api.http.get("/api/streams/00000000-0000-0000-0000-000000000000"), 404)
    assert_problem(await api.send(viewer, "00000000-0000-0000-0000-000000000000", "hi"), 404)


async def test_history_pages_with_a_cursor(api: Api) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    sid = (await api.go_live(owner, channel["id"]))["id"]
    last = 0
    for i in range(7):
        r = await api.send(owner, sid, f"m{i}")
        last = r.json()["position"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, "after": last}
        if cursor:
            params["cursor"] = cursor
        page = (await api.http.get(f"/api/streams/{sid}/messages", params=params)).json()
        seen += [m["content"] for m in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [f"m{i}" for i in reversed(range(7))]
    bad = await api.http.get(f"/api/streams/{sid}/messages", params={"limit": 1000})
    assert_problem(bad, 422, "limit")


async def test_concurrent_senders_are_group_committed(api: Api, server: LiveServer) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    sid = (await api.go_live(owner, channel["id"]))["id"]
    users = [await api.register() for _ in range(6)]  # 20 each: within the rate limit
    batches: list[int] = []
    committer = server.services.chat
    committer._on_batch = batches.append  # observe batch sizes

    responses = await asyncio.gather(*(
        api.send(users[i % 6], sid, f"burst {i}") for i in range(120)))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses[:3]]
    positions = sorted(r.json()["position"] for r in responses)
    assert len(set(positions)) == 120
    assert max(batches) > 1, batches  # at least some commands shared a transaction
    history = await api.http.get(f"/api/streams/{sid}/messages",
                                 params={"after": positions[-1], "limit": 100})
    assert len(history.json()["items"]) == 100


async def test_health_and_schema(api: Api) -> None:
    assert (await api.http.get("/health/live")).json() == {"status": "ok"}
    ready = await api.http.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    schema = await api.http.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/auth/register", "/api/channels/{slug}", "/api/streams/{stream_id}/messages",
                 "/api/messages/{message_id}"):
        assert path in paths, sorted(paths)
    r = await api.http.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
