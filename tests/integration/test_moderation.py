"""Chat moderation end to end, in both modes: bans and timeouts, who may do what
(and who may not), the moderation log, channel filters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.harness import LiveServer
from tests.integration.client import Api, assert_problem, next_event
from tests.integration.test_chat_nodes import two_nodes  # noqa: F401 (a fixture)


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[Api]:
    client = Api(server.url, server.ws_url)
    yield client
    await client.close()


async def send_frame(ws: ClientConnection, event: str, data: Any = None) -> None:
    await ws.send(json.dumps({"event": event, "data": data}))


async def joined(api: Api, stream_id: str, user: dict[str, Any] | None = None,
                 after: int | None = None) -> ClientConnection:
    """A chat socket joined to the stream (its history has arrived; with `after`, a
    history that holds everything up to that position)."""
    query = f"?token={user['token']}" if user else ""
    ws = await connect(f"{api.ws_url}/ws/chat{query}")
    await send_frame(ws, "chat:join", {"streamId": stream_id} | (
        {"after": after} if after is not None else {}))
    await next_event(ws, "chat:history")
    return ws


async def message_with(ws: ClientConnection, content: str) -> dict[str, Any]:
    """The next `chat:message` with this content (others in the room are skipped)."""
    while (message := await next_event(ws, "chat:message"))["content"] != content:
        pass
    return message


class Room:
    """A live channel with its owner, a moderator and a viewer."""

    def __init__(self, owner: dict[str, Any], mod: dict[str, Any], viewer: dict[str, Any],
                 channel_id: str, stream_id: str) -> None:
        self.owner, self.mod, self.viewer = owner, mod, viewer
        self.channel_id, self.stream_id = channel_id, stream_id


async def room(api: Api) -> Room:
    owner, mod, viewer = await api.register(), await api.register(), await api.register()
    channel = await api.channel(owner)
    r = await api.http.put(f"/api/channels/{channel['id']}/moderators/{mod['id']}",
                           headers=owner["headers"])
    assert r.status_code == 200, r.text
    stream = await api.go_live(owner, channel["id"])
    return Room(owner, mod, viewer, channel["id"], stream["id"])


async def ban(api: Api, by: dict[str, Any], user_id: str, channel_id: str,
              **body: Any) -> Any:
    return await api.http.post(f"/api/users/{user_id}/block",
                               json={"channelId": channel_id, **body}, headers=by["headers"])


async def unban(api: Api, by: dict[str, Any], user_id: str, channel_id: str) -> Any:
    return await api.http.delete(f"/api/users/{user_id}/block",
                                 params={"channelId": channel_id}, headers=by["headers"])


async def test_a_ban_refuses_sends_tells_the_sockets_and_removes_recent_messages(
        api: Api) -> None:
    r_ = await room(api)
    sid = r_.stream_id
    sent = [(await api.send(r_.viewer, sid, f"spam {i}")).json() for i in range(2)]
    keep = (await api.send(r_.owner, sid, "welcome")).json()
    watcher = await joined(api, sid)
    banned_ws = await joined(api, sid, r_.viewer)
    try:
        r = await ban(api, r_.mod, r_.viewer["id"], r_.channel_id, reason="spam")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["banned"] is True and body["until"] is None and body["reason"] == "spam"
        assert sorted(body["removedMessageIds"]) == sorted(m["id"] for m in sent)

        deleted = {(await next_event(watcher, "chat:deleted"))["messageId"] for _ in sent}
        assert deleted == {m["id"] for m in sent}
        notice = await next_event(banned_ws, "chat:error")
        assert notice["code"] == "banned" and "banned" in notice["message"]

        await send_frame(banned_ws, "chat:send", {"content": "let me back"})
        assert (await next_event(banned_ws, "chat:error"))["code"] == "banned"
        r = await api.send(r_.viewer, sid, "over http")
        assert "banned" in assert_problem(r, 403)["detail"]

        r = await api.http.get(f"/api/streams/{sid}/messages",
                               params={"after": body["position"]})
        assert [m["id"] for m in r.json()["items"]] == [keep["id"]]

        r = await unban(api, r_.mod, r_.viewer["id"], r_.channel_id)
        assert r.status_code == 200 and r.json()["banned"] is False, r.text
        assert (await api.send(r_.viewer, sid, "sorry")).status_code == 201
        await send_frame(banned_ws, "chat:send", {"content": "sorry again"})
        await message_with(watcher, "sorry again")
        r = await unban(api, r_.mod, r_.viewer["id"], r_.channel_id)
        assert r.status_code == 200 and r.json()["position"] == 0  # nothing to lift
    finally:
        await watcher.close()
        await banned_ws.close()


async def test_a_ban_refuses_a_socket_that_joins_afterwards(api: Api) -> None:
    r_ = await room(api)
    assert (await ban(api, r_.owner, r_.viewer["id"], r_.channel_id)).status_code == 200
    ws = await joined(api, r_.stream_id, r_.viewer)
    try:
        await send_frame(ws, "chat:send", {"content": "hello?"})
        error = await next_event(ws, "chat:error")
        assert error["code"] == "banned"
    finally:
        await ws.close()


async def test_a_timeout_expires_by_itself(api: Api) -> None:
    r_ = await room(api)
    ws = await joined(api, r_.stream_id, r_.viewer)
    try:
        r = await ban(api, r_.mod, r_.viewer["id"], r_.channel_id, durationSeconds=1)
        assert r.status_code == 200 and r.json()["until"] is not None, r.text
        assert (await next_event(ws, "chat:error"))["code"] == "banned"
        until = datetime.fromisoformat(r.json()["until"])
        # Refused until the timeout runs out, then accepted: try every 0.25 s (some 16
        # tries, within the rate limit) until a send goes through, not before `until`.
        while (sent := await api.send(r_.viewer, r_.stream_id, "back")).status_code != 201:
            assert "until" in assert_problem(sent, 403)["detail"]
            assert datetime.now(UTC) < until + timedelta(seconds=3), "the timeout never ran out"
            await asyncio.sleep(0.25)
        assert datetime.now(UTC) >= until
        await send_frame(ws, "chat:send", {"content": "back on the socket"})
        assert (await message_with(ws, "back on the socket"))["user"]["id"] == r_.viewer["id"]
    finally:
        await ws.close()


async def test_who_may_ban_and_who_may_not(api: Api) -> None:
    a = await room(api)
    b = await room(api)
    other = await api.register()
    # A viewer may not ban, unban or delete someone else's message.
    assert_problem(await ban(api, a.viewer, other["id"], a.channel_id), 403)
    assert_problem(await unban(api, a.viewer, other["id"], a.channel_id), 403)
    msg = (await api.send(other, a.stream_id, "mine")).json()
    assert_problem(await api.http.delete(f"/api/messages/{msg['id']}",
                                         headers=a.viewer["headers"]), 403)
    # Nobody bans the owner; a moderator does not ban another moderator, or themselves.
    assert_problem(await ban(api, a.mod, a.owner["id"], a.channel_id), 403)
    second = await api.register()
    r = await api.http.put(f"/api/channels/{a.channel_id}/moderators/{second['id']}",
                           headers=a.owner["headers"])
    assert r.status_code == 200
    assert_problem(await ban(api, a.mod, second["id"], a.channel_id), 403)
    assert_problem(await ban(api, a.mod, a.mod["id"], a.channel_id), 422, "userId")
    # A moderator of one channel has no rights in another.
    assert_problem(await ban(api, a.mod, b.viewer["id"], b.channel_id), 403)
    assert_problem(await unban(api, a.mod, b.viewer["id"], b.channel_id), 403)
    msg_b = (await api.send(b.viewer, b.stream_id, "in b")).json()
    assert_problem(await api.http.delete(f"/api/messages/{msg_b['id']}",
                                         headers=a.mod["headers"]), 403)
    # Bad input: no such channel or user, a duration out of range, no sign-in.
    assert_problem(await ban(api, a.mod, other["id"], "00000000-0000-0000-0000-000000000000"),
                   404)
    assert_problem(await ban(api, a.mod, "00000000-0000-0000-0000-000000000000", a.channel_id),
                   404)
    assert_problem(await ban(api, a.mod, other["id"], a.channel_id, durationSeconds=0), 422,
                   "durationSeconds")
    r = await api.http.post(f"/api/users/{other['id']}/block", json={"channelId": a.channel_id})
    assert_problem(r, 401)
    # The owner may ban a moderator, who stops being one.
    assert (await ban(api, a.owner, second["id"], a.channel_id)).status_code == 200
    assert_problem(await ban(api, second, other["id"], a.channel_id), 403)
    # A ban in one channel leaves the user free in another.
    assert (await ban(api, a.mod, other["id"], a.channel_id)).status_code == 200
    assert_problem(await api.send(other, a.stream_id, "a?"), 403)
    assert (await api.send(other, b.stream_id, "b!")).status_code == 201
    # The list of bans: the owner and moderators of that channel only.
    r = await api.http.get(f"/api/channels/{a.channel_id}/bans", headers=a.mod["headers"])
    assert r.status_code == 200, r.text
    assert {i["userId"] for i in r.json()["items"]} == {second["id"], other["id"]}
    for outsider in (a.viewer, b.mod, second):
        assert_problem(await api.http.get(f"/api/channels/{a.channel_id}/bans",
                                          headers=outsider["headers"]), 403)


async def moderation_log(api: Api, by: dict[str, Any], channel_id: str,
                         **params: Any) -> Any:
    return await api.http.get(f"/api/channels/{channel_id}/moderation-log", params=params,
                              headers=by["headers"])


async def test_every_moderation_action_is_in_the_log(api: Api) -> None:
    a = await room(api)
    b = await room(api)
    mine = (await api.send(a.viewer, a.stream_id, "my own")).json()
    theirs = (await api.send(a.viewer, a.stream_id, "rude")).json()
    r = await api.http.delete(f"/api/messages/{mine['id']}", headers=a.viewer["headers"])
    assert r.status_code == 200  # an author deleting their own message is not moderation
    r = await api.http.delete(f"/api/messages/{theirs['id']}", headers=a.mod["headers"])
    assert r.status_code == 200
    r = await ban(api, a.mod, a.viewer["id"], a.channel_id, durationSeconds=60, reason="rude")
    assert r.status_code == 200
    assert (await unban(api, a.owner, a.viewer["id"], a.channel_id)).status_code == 200
    r = await api.http.put(f"/api/channels/{a.channel_id}/filters",
                           json={"blockedTerms": ["free"], "slowModeSeconds": 5},
                           headers=a.mod["headers"])
    assert r.status_code == 200, r.text
    r = await api.http.delete(f"/api/channels/{a.channel_id}/moderators/{a.mod['id']}",
                              headers=a.owner["headers"])
    last = r.json()["position"]

    r = await moderation_log(api, a.owner, a.channel_id, after=last)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["action"] for i in items] == [
        "moderator.revoked", "filters.changed", "user.unbanned", "user.timed_out",
        "message.deleted", "moderator.granted"]
    revoked, changed, unbanned, timed_out, deleted, granted = items
    assert revoked["userId"] == a.mod["id"] and revoked["actorId"] == a.owner["id"]
    assert changed["details"]["blocked_terms"] == ["free"]
    assert changed["details"]["slow_mode_s"] == 5
    assert unbanned["actorId"] == a.owner["id"] and unbanned["userId"] == a.viewer["id"]
    assert timed_out["details"]["reason"] == "rude" and timed_out["details"]["until"]
    assert deleted["messageId"] == theirs["id"] and deleted["actorId"] == a.mod["id"]
    assert granted["userId"] == a.mod["id"]

    page = (await moderation_log(api, a.owner, a.channel_id, limit=4)).json()
    assert [i["id"] for i in page["items"]] == [i["id"] for i in items[:4]]
    rest = (await moderation_log(api, a.owner, a.channel_id, limit=4,
                                 cursor=page["nextCursor"])).json()
    assert [i["id"] for i in rest["items"]] == [i["id"] for i in items[4:]]
    assert rest["nextCursor"] is None

    # Only the owner and the channel's moderators read it: not a viewer, not a former
    # moderator, not the moderator of another channel, not an anonymous caller.
    assert_problem(await moderation_log(api, a.viewer, a.channel_id), 403)
    assert_problem(await moderation_log(api, a.mod, a.channel_id), 403)
    assert_problem(await moderation_log(api, b.mod, a.channel_id), 403)
    assert (await moderation_log(api, b.mod, b.channel_id)).status_code == 200
    assert_problem(await api.http.get(f"/api/channels/{a.channel_id}/moderation-log"), 401)


async def put_filters(api: Api, by: dict[str, Any], channel_id: str, **body: Any) -> Any:
    return await api.http.put(f"/api/channels/{channel_id}/filters", json=body,
                              headers=by["headers"])


async def test_filters_refuse_messages_with_a_reason(api: Api) -> None:
    a = await room(api)
    b = await room(api)
    assert_problem(await put_filters(api, a.viewer, a.channel_id, blockLinks=True), 403)
    assert_problem(await put_filters(api, b.mod, a.channel_id, blockLinks=True), 403)
    assert_problem(await api.http.get(f"/api/channels/{a.channel_id}/filters",
                                      headers=a.viewer["headers"]), 403)
    assert_problem(await put_filters(api, a.mod, a.channel_id, slowModeSeconds=-1), 422)
    assert_problem(await put_filters(api, a.mod, a.channel_id, blockedTerms=["!!"]), 422,
                   "blockedTerms")
    r = await put_filters(api, a.mod, a.channel_id, blockedTerms=["free"], blockLinks=True)
    assert r.status_code == 200, r.text
    assert r.json()["defaultProfanity"] is True and r.json()["blockedTerms"] == ["free"]
    r = await api.http.get(f"/api/channels/{a.channel_id}/filters", headers=a.mod["headers"])
    assert r.json()["blockLinks"] is True

    for content, code in [("fr33 stuff", "filtered"), ("\uff26\uff32\uff25\uff25", "filtered"),
                          ("sh1t", "filtered"), ("see example.com", "links_blocked")]:
        body = assert_problem(await api.send(a.viewer, a.stream_id, content), 422, "content")
        assert body["type"] == f"/problems/{code}", content
    assert (await api.send(a.mod, a.stream_id, "see example.com")).status_code == 201
    assert (await api.send(a.viewer, b.stream_id, "fr33 stuff")).status_code == 201  # b is open

    ws = await joined(api, a.stream_id, a.viewer)
    try:
        await send_frame(ws, "chat:send", {"content": "F R E E"})
        error = await next_event(ws, "chat:error")
        assert error["code"] == "filtered" and error["message"]
        r = await put_filters(api, a.owner, a.channel_id, defaultProfanity=False,
                              slowModeSeconds=30)
        assert r.status_code == 200
        await send_frame(ws, "chat:send", {"content": "shit, first"})
        await message_with(ws, "shit, first")
        await send_frame(ws, "chat:send", {"content": "second"})
        error = await next_event(ws, "chat:error")
        assert error["code"] == "slow_mode" and "wait" in error["message"]
        assert (await api.send(a.mod, a.stream_id, "mods are exempt")).status_code == 201
        assert (await api.send(a.mod, a.stream_id, "twice")).status_code == 201

        r = await put_filters(api, a.owner, a.channel_id, followersOnly=True)
        assert r.status_code == 200
        await send_frame(ws, "chat:send", {"content": "let me in"})
        assert (await next_event(ws, "chat:error"))["code"] == "followers_only"
        r = await api.http.post(f"/api/channels/{a.channel_id}/follow",
                                headers=a.viewer["headers"])
        assert r.status_code == 200, r.text
        await send_frame(ws, "chat:send", {"content": "following now"})
        await message_with(ws, "following now")
        r = await put_filters(api, a.owner, a.channel_id, followersOnly=True,
                              followMinAgeSeconds=3600)
        body = assert_problem(await api.send(a.viewer, a.stream_id, "too new"), 422, "content")
        assert body["type"] == "/problems/followers_only"
    finally:
        await ws.close()


async def report(api: Api, by: dict[str, Any], **body: Any) -> Any:
    return await api.http.post("/api/reports", json=body, headers=by["headers"])


async def queue(api: Api, by: dict[str, Any], channel_id: str, **params: Any) -> Any:
    return await api.http.get(f"/api/channels/{channel_id}/reports", params=params,
                              headers=by["headers"])


async def test_reports_queue_and_resolution(api: Api) -> None:
    a = await room(api)
    b = await room(api)
    troll, witness = await api.register(), await api.register()
    bad = (await api.send(troll, a.stream_id, "nasty words")).json()

    r1 = await report(api, a.viewer, messageId=bad["id"], reason="abuse")
    assert r1.status_code == 201, r1.text
    assert r1.json()["userId"] == troll["id"] and r1.json()["channelId"] == a.channel_id
    r2 = await report(api, witness, userId=troll["id"], channelId=a.channel_id,
                      reason="keeps trolling")
    assert r2.status_code == 201, r2.text
    first, second = r1.json(), r2.json()
    # Bad reports: nothing named, yourself, unknown ids, no reason, no sign-in.
    assert_problem(await report(api, a.viewer, reason="?"), 422, "messageId")
    assert_problem(await report(api, troll, messageId=bad["id"], reason="me"), 422, "userId")
    assert_problem(await report(api, a.viewer, messageId="00000000-0000-0000-0000-000000000000",
                                reason="x"), 404)
    assert_problem(await report(api, a.viewer, messageId=bad["id"], reason=""), 422)
    assert_problem(await api.http.post("/api/reports", json={"messageId": bad["id"],
                                                             "reason": "x"}), 401)

    # The queue: the owner and moderators see both; nobody else sees it.
    r = await queue(api, a.mod, a.channel_id, after=second["position"])
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [second["id"], first["id"]]
    assert items[1]["content"] == "nasty words" and items[1]["reporterId"] == a.viewer["id"]
    assert (await queue(api, a.owner, a.channel_id)).status_code == 200
    for outsider in (a.viewer, witness, troll, b.mod, b.owner):
        assert_problem(await queue(api, outsider, a.channel_id), 403)
    # A reporter sees their own report, not the other one (404: it does not exist for them).
    mine = await api.http.get(f"/api/reports/{first['id']}", headers=a.viewer["headers"],
                              params={"after": second["position"]})
    assert mine.status_code == 200 and mine.json()["reason"] == "abuse"
    assert_problem(await api.http.get(f"/api/reports/{second['id']}",
                                      headers=a.viewer["headers"]), 404)
    assert_problem(await api.http.get(f"/api/reports/{first['id']}",
                                      headers=troll["headers"]), 404)
    assert (await api.http.get(f"/api/reports/{second['id']}",
                               headers=a.mod["headers"])).status_code == 200

    # Resolving: not by a viewer or another channel's moderator; an action is taken.
    async def resolve(by: dict[str, Any], report_id: str, **body: Any) -> Any:
        return await api.http.post(f"/api/reports/{report_id}/resolve", json=body,
                                   headers=by["headers"])

    assert_problem(await resolve(a.viewer, first["id"], action="dismiss"), 404)
    assert_problem(await resolve(b.mod, first["id"], action="ban"), 404)
    assert_problem(await resolve(a.mod, first["id"], action="shrug"), 422)
    assert_problem(await resolve(a.mod, second["id"], action="delete_message"), 422, "action")
    watcher = await joined(api, a.stream_id)
    try:
        r = await resolve(a.mod, first["id"], action="delete_message", note="gone")
        assert r.status_code == 200 and r.json()["deletedMessageId"] == bad["id"], r.text
        assert (await next_event(watcher, "chat:deleted"))["messageId"] == bad["id"]
        r = await resolve(a.mod, second["id"], action="timeout", durationSeconds=120)
        assert r.status_code == 200 and r.json()["until"], r.text
        banned = await next_event(watcher, "chat:banned")
        assert banned["userId"] == troll["id"] and banned["until"]
    finally:
        await watcher.close()
    assert "banned" in assert_problem(await api.send(troll, a.stream_id, "hi"), 403)["detail"]
    assert_problem(await resolve(a.mod, first["id"], action="dismiss"), 409)

    resolved_at = r.json()["position"]
    r = await queue(api, a.mod, a.channel_id, after=resolved_at)
    assert r.json()["items"] == []  # open ones only, by default
    done = (await queue(api, a.mod, a.channel_id, status="resolved")).json()["items"]
    assert {(i["id"], i["action"]) for i in done} == {(first["id"], "delete_message"),
                                                      (second["id"], "timeout")}
    log = (await moderation_log(api, a.owner, a.channel_id,
                                after=resolved_at)).json()["items"]
    actions = [i["action"] for i in log]
    assert actions.count("report.resolved") == 2 and "user.timed_out" in actions


async def test_ignoring_a_user_hides_their_messages_from_my_view_only(api: Api) -> None:
    a = await room(api)
    me, troll = await api.register(), await api.register()
    old = (await api.send(troll, a.stream_id, "old noise")).json()
    r = await api.http.post(f"/api/users/{troll['id']}/ignore", headers=me["headers"])
    assert r.status_code == 200 and r.json()["ignored"] is True, r.text
    # Read-your-writes covers the ignore too: the history after it hides the troll.
    at_once = await api.http.get(f"/api/streams/{a.stream_id}/messages", headers=me["headers"],
                                 params={"after": r.json()["position"]})
    assert "old noise" not in [m["content"] for m in at_once.json()["items"]]
    listed = await api.http.get("/api/ignores", headers=me["headers"],
                                params={"after": r.json()["position"]})
    assert listed.json()["items"] == [troll["id"]]
    assert_problem(await api.http.post(f"/api/users/{me['id']}/ignore",
                                       headers=me["headers"]), 422, "userId")
    assert_problem(await api.http.post(
        "/api/users/00000000-0000-0000-0000-000000000000/ignore", headers=me["headers"]), 404)

    mine = await connect(f"{api.ws_url}/ws/chat?token={me['token']}")
    # someone who does not ignore the troll ("old noise" in the history, not live)
    other = await joined(api, a.stream_id, a.viewer, after=old["position"])
    try:
        await send_frame(mine, "chat:join", {"streamId": a.stream_id, "after": old["position"]})
        assert await next_event(mine, "chat:history") == []  # history without the troll
        await api.send(troll, a.stream_id, "live noise")
        await api.send(a.owner, a.stream_id, "hello all")
        assert (await next_event(mine, "chat:message"))["content"] == "hello all"
        assert (await next_event(other, "chat:message"))["content"] == "live noise"

        hello = await message_with(other, "hello all")
        history = f"/api/streams/{a.stream_id}/messages"
        mine_http = await api.http.get(history, headers=me["headers"],
                                       params={"after": hello["position"]})
        assert [m["content"] for m in mine_http.json()["items"]] == ["hello all"]
        everyone = await api.http.get(history, params={"after": hello["position"]})
        assert [m["content"] for m in everyone.json()["items"]] == [
            "hello all", "live noise", "old noise"]
        assert_problem(await api.http.get(history, headers={"Authorization": "Bearer nope"}),
                       401)

        r = await api.http.delete(f"/api/users/{troll['id']}/ignore", headers=me["headers"])
        assert r.status_code == 200 and r.json()["ignored"] is False
        await api.send(troll, a.stream_id, "visible again")
        assert (await next_event(mine, "chat:message"))["content"] == "visible again"
    finally:
        await mine.close()
        await other.close()


async def test_badges_on_messages(api: Api) -> None:
    a = await room(api)
    fan = await api.register()
    r = await api.http.post(f"/api/channels/{a.channel_id}/subscription", json={"tier": "VIP"},
                            headers=fan["headers"])
    assert r.status_code == 200, r.text
    for user, badges in [(a.owner, ["broadcaster"]), (a.mod, ["moderator"]),
                         (fan, ["subscriber"]), (a.viewer, [])]:
        r = await api.send(user, a.stream_id, "hello")
        assert r.status_code == 201 and r.json()["user"]["badges"] == badges, r.text


async def test_deleting_over_the_socket(api: Api) -> None:
    a = await room(api)
    b = await room(api)
    msg = (await api.send(a.viewer, a.stream_id, "delete me")).json()
    msg_b = (await api.send(b.viewer, b.stream_id, "not yours")).json()
    anonymous = await joined(api, a.stream_id)
    outsider = await joined(api, a.stream_id, b.mod)
    mod = await joined(api, a.stream_id, a.mod)
    try:
        await send_frame(anonymous, "chat:delete", {"messageId": msg["id"]})
        assert (await next_event(anonymous, "chat:error"))["code"] == "unauthenticated"
        await send_frame(outsider, "chat:delete", {"messageId": msg["id"]})
        assert (await next_event(outsider, "chat:error"))["code"] == "forbidden"
        await send_frame(mod, "chat:delete", {"messageId": msg_b["id"]})
        assert (await next_event(mod, "chat:error"))["code"] == "forbidden"
        await send_frame(mod, "chat:delete", {"messageId": "nope"})
        assert (await next_event(mod, "chat:error"))["code"] == "not_found"
        await send_frame(mod, "chat:delete", {"messageId": msg["id"]})
        assert (await next_event(anonymous, "chat:deleted"))["messageId"] == msg["id"]
    finally:
        for ws in (anonymous, outsider, mod):
            await ws.close()


async def test_slow_mode_and_bans_hold_across_nodes(
        two_nodes: list[str]) -> None:  # noqa: F811 (the imported fixture)
    a = Api(two_nodes[0], two_nodes[0].replace("http", "ws"))
    b = Api(two_nodes[1], two_nodes[1].replace("http", "ws"))
    try:
        owner, viewer = await a.register(), await a.register()
        channel = await a.channel(owner)
        stream = await a.go_live(owner, channel["id"])
        await b.http.get(f"/api/streams/{stream['id']}", params={"after": stream["position"]})
        # Slow mode is kept in Redis: a second message through the other node is too soon.
        assert (await put_filters(a, owner, channel["id"], slowModeSeconds=60)).status_code == 200
        assert (await a.send(viewer, stream["id"], "on node a")).status_code == 201
        body = assert_problem(await b.send(viewer, stream["id"], "on node b"), 422, "content")
        assert body["type"] == "/problems/slow_mode"
        ws = await b.subscribe(stream["id"], viewer["token"])
        try:
            r = await ban(a, owner, viewer["id"], channel["id"], durationSeconds=600)
            assert r.status_code == 200, r.text
            banned = await next_event(ws, "chat:banned", timeout=10)
            assert banned["userId"] == viewer["id"] and banned["until"]
            await send_frame(ws, "chat:send", {"content": "from node b"})
            assert (await next_event(ws, "chat:error", timeout=10))["code"] == "banned"
            assert_problem(await b.send(viewer, stream["id"], "over http on b"), 403)
        finally:
            await ws.close()
    finally:
        await asyncio.gather(a.close(), b.close())
