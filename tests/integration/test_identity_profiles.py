"""Profiles, usernames, follows and subscriptions over HTTP, on both modes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.harness import LiveServer
from tests.integration.client import Api, assert_problem


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[Api]:
    client = Api(server.url, server.ws_url)
    yield client
    await client.close()


async def test_profile_edit_read_and_owner_only(api: Api) -> None:
    alice = await api.register("alice")
    bob = await api.register("bob")
    r = await api.http.put("/api/auth/profile", headers=alice["headers"], json={
        "bio": "  I stream chess  ", "socialLinks": {"twitch": "https://www.twitch.tv/alice",
                                                     "website": "https://alice.example"},
        "theme": "light", "language": "pt-BR", "notificationEmail": "Alerts@Example.com"})
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["bio"] == "I stream chess" and mine["theme"] == "light"
    assert mine["notificationEmail"] == "alerts@example.com" and "token" not in mine

    public = await api.http.get(f"/api/users/{alice['id']}", params={"after": mine["position"]})
    assert public.status_code == 200, public.text
    view = public.json()
    assert view["bio"] == "I stream chess" and view["username"] == "alice"
    assert view["socialLinks"] == {"twitch": "https://www.twitch.tv/alice",
                                   "website": "https://alice.example"}
    assert "email" not in view and "notificationEmail" not in view
    assert view["followerCount"] == 0

    # Only the owner edits: another user's token is refused, whatever the route.
    other = await api.http.put(f"/api/users/{alice['id']}", json={"bio": "pwned"},
                               headers=bob["headers"])
    assert_problem(other, 403)
    assert_problem(await api.http.put(f"/api/users/{alice['id']}", json={"bio": "x"}), 401)

    for body, field in [
        ({"socialLinks": {"twitch": "https://evil.example/alice"}}, "socialLinks.twitch"),
        ({"socialLinks": {"twitch": "http://twitch.tv/alice"}}, "socialLinks.twitch"),
        ({"socialLinks": {"myspace": "https://myspace.com/a"}}, "socialLinks.myspace"),
        ({"theme": "neon"}, "theme"),
        ({"language": "english please"}, "language"),
        ({"notificationEmail": "not-an-email"}, "notificationEmail"),
        ({"bio": "x" * 501}, "bio"),
        ({"avatar": "javascript:alert(1)"}, "avatar"),
        ({"displayName": "d" * 51}, "displayName"),
        ({"bio": 5}, "bio"),
    ]:
        assert_problem(await api.http.put("/api/auth/profile", json=body,
                                          headers=alice["headers"]), 422, field)
    assert_problem(await api.http.get("/api/users/not-a-uuid"), 404)
    assert_problem(await api.http.get("/api/users/00000000-0000-0000-0000-000000000000"), 404)


async def test_username_changes_free_the_old_name(api: Api) -> None:
    alice = await api.register("alice")
    bob = await api.register("bob")
    r = await api.http.put(f"/api/users/{alice['id']}", json={"username": "Alice_Two"},
                           headers=alice["headers"])
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "alice_two"
    fresh = {"Authorization": f"Bearer {r.json()['token']}"}
    me = await api.http.get("/api/auth/user", headers=fresh)
    assert me.json()["username"] == "alice_two"

    taken = await api.http.put("/api/auth/profile", json={"username": "ALICE_TWO"},
                               headers=bob["headers"])
    assert_problem(taken, 409, "username")
    freed = await api.http.put("/api/auth/profile", json={"username": "ALICE"},
                               headers=bob["headers"])
    assert freed.status_code == 200, freed.text
    assert freed.json()["username"] == "alice"
    view = await api.http.get(f"/api/users/{bob['id']}", params={"after": freed.json()["position"]})
    assert view.json()["username"] == "alice"
    # The name bob left is free for a new account; a name in use is not.
    r = await api.http.post("/api/auth/register", json={
        "email": "bob2@example.com", "username": "BOB", "password": "correct horse"})
    assert r.status_code == 201, r.text
    r = await api.http.post("/api/auth/register", json={
        "email": "x@example.com", "username": "Alice", "password": "correct horse"})
    assert_problem(r, 409, "username")

    for name in ("admin", "Support", "root", "api"):
        assert_problem(await api.http.put("/api/auth/profile", json={"username": name},
                                          headers=alice["headers"]), 422, "username")
        r = await api.http.post("/api/auth/register", json={
            "email": f"{name}@example.com", "username": name, "password": "correct horse"})
        assert_problem(r, 422, "username")
    for bad in ("ab", "a" * 26, "bad-name", "späß"):
        assert_problem(await api.http.put("/api/auth/profile", json={"username": bad},
                                          headers=alice["headers"]), 422, "username")


async def test_follow_users_and_channels_with_counts_and_pages(api: Api) -> None:
    star = await api.register()
    fans = [await api.register() for _ in range(3)]
    channel = await api.channel(star)

    positions = []
    for fan in fans:
        r = await api.http.post(f"/api/users/{star['id']}/follow", headers=fan["headers"])
        assert r.status_code == 200 and r.json()["following"] is True, r.text
        positions.append(r.json()["position"])
    again = await api.http.post(f"/api/users/{star['id']}/follow", headers=fans[0]["headers"])
    assert again.status_code == 200 and again.json()["position"] == 0  # nothing changed

    view = await api.http.get(f"/api/users/{star['id']}", params={"after": max(positions)})
    assert view.json()["followerCount"] == 3
    fan_view = await api.http.get(f"/api/users/{fans[0]['id']}")
    assert fan_view.json()["followingCount"] == 1

    page = await api.http.get(f"/api/users/{star['id']}/followers", params={"limit": 2})
    assert page.status_code == 200, page.text
    first = page.json()
    assert [f["id"] for f in first["items"]] == [fans[2]["id"], fans[1]["id"]]
    assert first["nextCursor"] is not None
    rest = await api.http.get(f"/api/users/{star['id']}/followers",
                              params={"limit": 2, "cursor": first["nextCursor"]})
    assert [f["id"] for f in rest.json()["items"]] == [fans[0]["id"]]
    assert rest.json()["nextCursor"] is None
    following = await api.http.get(f"/api/users/{fans[1]['id']}/following")
    assert [f["username"] for f in following.json()["items"]] == [star["username"]]

    gone = await api.http.delete(f"/api/users/{star['id']}/follow", headers=fans[1]["headers"])
    assert gone.status_code == 200 and gone.json()["following"] is False
    twice = await api.http.delete(f"/api/users/{star['id']}/follow", headers=fans[1]["headers"])
    assert twice.json()["position"] == 0
    view = await api.http.get(f"/api/users/{star['id']}", params={"after": gone.json()["position"]})
    assert view.json()["followerCount"] == 2

    assert_problem(await api.http.post(f"/api/users/{star['id']}/follow",
                                       headers=star["headers"]), 422, "userId")
    assert_problem(await api.http.post(f"/api/users/{star['id']}/follow"), 401)
    assert_problem(await api.http.post(
        "/api/users/00000000-0000-0000-0000-000000000000/follow", headers=star["headers"]), 404)
    assert_problem(await api.http.get(f"/api/users/{star['id']}/followers",
                                      params={"limit": 0}), 422, "limit")
    assert_problem(await api.http.get(f"/api/users/{star['id']}/following",
                                      params={"kind": "planet"}), 422, "kind")

    # Channels: idempotent follow, the channel page's followerCount, lists.
    cid = channel["id"]
    for fan in fans[:2]:
        r = await api.http.post(f"/api/channels/{cid}/follow", headers=fan["headers"])
        assert r.status_code == 200, r.text
    r = await api.http.post(f"/api/channels/{cid}/follow", headers=fans[0]["headers"])
    assert r.json()["position"] == 0
    last = (await api.http.post(f"/api/channels/{cid}/follow", headers=fans[2]["headers"])).json()
    page = await api.http.get(f"/api/channels/{channel['slug']}",
                              params={"after": last["position"]})
    assert page.json()["followerCount"] == 3
    unf = await api.http.delete(f"/api/channels/{cid}/follow", headers=fans[2]["headers"])
    page = await api.http.get(f"/api/channels/{channel['slug']}",
                              params={"after": unf.json()["position"]})
    assert page.json()["followerCount"] == 2
    followers = await api.http.get(f"/api/channels/{cid}/followers",
                                   params={"limit": 1, "after": unf.json()["position"]})
    assert len(followers.json()["items"]) == 1 and followers.json()["nextCursor"]
    mine = await api.http.get(f"/api/users/{fans[0]['id']}/following", params={"kind": "channel"})
    assert [c["slug"] for c in mine.json()["items"]] == [channel["slug"]]
    assert_problem(await api.http.post("/api/channels/00000000-0000-0000-0000-000000000000/follow",
                                       headers=fans[0]["headers"]), 404)


async def test_subscription_framework(api: Api) -> None:
    owner = await api.register()
    fan = await api.register()
    channel = await api.channel(owner)
    cid = channel["id"]
    r = await api.http.post(f"/api/channels/{cid}/subscription", json={},
                            headers=fan["headers"])
    assert r.status_code == 200, r.text
    assert r.json()["tier"] == "BASIC" and r.json()["status"] == "ACTIVE"
    assert r.json()["renewalDate"]
    r = await api.http.post(f"/api/channels/{cid}/subscription", json={"tier": "vip"},
                            headers=fan["headers"])
    assert r.json()["tier"] == "VIP"
    mine = await api.http.get("/api/subscriptions", headers=fan["headers"],
                              params={"after": r.json()["position"]})
    assert mine.status_code == 200, mine.text
    [sub] = mine.json()["items"]
    assert (sub["channelId"], sub["tier"], sub["status"]) == (cid, "VIP", "ACTIVE")
    cancelled = await api.http.delete(f"/api/channels/{cid}/subscription", headers=fan["headers"])
    assert cancelled.json()["status"] == "CANCELLED"
    mine = await api.http.get("/api/subscriptions", headers=fan["headers"],
                              params={"after": cancelled.json()["position"]})
    assert mine.json()["items"][0]["status"] == "CANCELLED"
    back = await api.http.post(f"/api/channels/{cid}/subscription", json={"tier": "PREMIUM"},
                               headers=fan["headers"])
    assert (back.json()["status"], back.json()["tier"]) == ("ACTIVE", "PREMIUM")

    assert_problem(await api.http.post(f"/api/channels/{cid}/subscription", json={"tier": "GOLD"},
                                       headers=fan["headers"]), 422, "tier")
    assert_problem(await api.http.post(f"/api/channels/{cid}/subscription", json={},
                                       headers=owner["headers"]), 422, "channelId")
    assert_problem(await api.http.delete(f"/api/channels/{cid}/subscription",
                                         headers=owner["headers"]), 404, "channelId")
    assert_problem(await api.http.get("/api/subscriptions"), 401)


async def test_clerk_webhooks_answer_404_until_configured(api: Api) -> None:
    r = await api.http.post("/webhooks/clerk", content=b"{}", headers={
        "svix-id": "msg_1", "svix-timestamp": "1", "svix-signature": "v1,x"})
    assert_problem(r, 404)
    # Without an external issuer, onboarding is for nobody: local accounts are set up.
    alice = await api.register()
    assert_problem(await api.http.post("/api/auth/onboard", json={"username": "someone"},
                                       headers=alice["headers"]), 403)
