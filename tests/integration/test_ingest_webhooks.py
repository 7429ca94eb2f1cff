"""Provider webhooks: Mux and Cloudflare Stream bodies in their documented
shapes, signed as the providers sign them, drive the stream's lifecycle; receipts are
deduplicated; bad signatures, stale timestamps and malformed bodies record nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.ingest.signatures import CLOUDFLARE, MUX
from tests.harness import LiveServer
from tests.integration.client import Api, assert_problem, next_event
from tests.integration.ingest_support import (
    CLOUDFLARE_NOTIFY_SECRET,
    CLOUDFLARE_SECRET,
    GRACE_S,
    MUX_SECRET,
    ingest_server,
)


@pytest.fixture(params=["embedded", "production"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    with ingest_server(request.param, tmp_path) as live:
        yield live


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[Api]:
    client = Api(server.url, server.ws_url)
    yield client
    await client.close()


def count(server: LiveServer, prefix: str) -> int:
    events, _ = server.services.store.read(0, 100_000)
    return sum(e.type.startswith(prefix) for e in events)


def mux_live(event_type: str, live_stream_id: str, *, status: str = "active",
             event_id: str | None = None) -> dict[str, Any]:
    """A Mux live stream notification as Mux documents it: the event envelope of
    https://www.mux.com/docs/webhook-reference (`type`, `object`, `id`, `environment`,
    `data`: the live stream object of https://www.mux.com/docs/api-reference/video/live-streams,
    with `reconnect_window`, 60 s by default: https://www.mux.com/docs/guides/handle-live-stream-disconnects)."""
    return {
        "type": event_type,
        "object": {"type": "live", "id": live_stream_id},
        "id": event_id or str(uuid.uuid4()),
        "environment": {"name": "Production", "id": "j0863n"},
        "data": {
            "id": live_stream_id,
            "status": status,
            "stream_key": "mux-own-stream-key-not-ours",
            "playback_ids": [{"policy": "public", "id": "PLAYBACK_" + live_stream_id}],
            "new_asset_settings": {"playback_policies": ["public"]},
            "reconnect_window": 60,
            "latency_mode": "standard",
            "active_asset_id": "ASSET_" + live_stream_id,
            "created_at": "1700000000",
        },
        "created_at": "2026-11-25T12:00:00.000000Z",
        "accessor": None,
        "accessor_source": None,
        "request_id": None,
        "attempts": [],
    }


def mux_asset(event_type: str, live_stream_id: str) -> dict[str, Any]:
    """A Mux asset notification (https://www.mux.com/docs/webhook-reference): the asset a
    live stream recorded names it in `live_stream_id`."""
    return {
        "type": event_type,
        "object": {"type": "asset", "id": "ASSET_" + live_stream_id},
        "id": str(uuid.uuid4()),
        "environment": {"name": "Production", "id": "j0863n"},
        "data": {
            "id": "ASSET_" + live_stream_id,
            "status": "ready",
            "playback_ids": [{"policy": "public", "id": "VOD_" + live_stream_id}],
            "live_stream_id": live_stream_id,
            "is_live": False,
            "duration": 12.5,
            "created_at": "1700000001",
        },
        "created_at": "2026-11-25T12:05:00.000000Z",
        "attempts": [],
    }


async def post_mux(api: Api, body: dict[str, Any] | bytes, *, t: int | None = None,
                   secret: str = MUX_SECRET) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = int(time.time()) if t is None else t
    return await api.http.post("/webhooks/mux", content=raw, headers={
        "Mux-Signature": MUX.sign(secret, stamp, raw), "content-type": "application/json"})


def cf_live(event_type: str, input_id: str, updated_at: str) -> dict[str, Any]:
    """A Stream Live input notification as Cloudflare documents it: the "Example webhook
    payload" of https://developers.cloudflare.com/stream/stream-live/webhooks/ (sent by
    Cloudflare Notifications, whose generic webhooks carry the destination's secret in
    `cf-webhook-auth`: https://developers.cloudflare.com/notifications/get-started/configure-webhooks/)."""
    return {
        "name": "Live Webhook Test",
        "text": f"Notification type: Stream Live Input\nInput ID: {input_id}\n"
                f"Event type: {event_type}\nUpdated at: {updated_at}",
        "data": {"notification_name": "Stream Live Input", "input_id": input_id,
                 "event_type": event_type, "updated_at": updated_at},
        "ts": int(time.time()),
    }


def cf_errored(input_id: str) -> dict[str, Any]:
    """The "Example live_input.errored webhook payload" of
    https://developers.cloudflare.com/stream/stream-live/webhooks/ (its stray comma after
    `ts` left out: that example is not valid JSON as printed)."""
    return {
        "name": "Live Webhook Test",
        "text": "Notification type: Stream Live Input\nInput ID: 2c28dd2cc444cb77578c4840b51e43a8"
                "\nEvent type: live_input.errored\nUpdated at: 2024-07-09T18:07:51.077371662Z"
                "\nError Code: ERR_GOP_OUT_OF_RANGE\nError Message: Input GOP size or keyframe "
                "interval is out of range.\nVideo Codec: \nAudio Codec: ",
        "data": {
            "notification_name": "Stream Live Input",
            "input_id": input_id,
            "event_type": "live_input.errored",
            "updated_at": "2024-07-09T18:07:51.077371662Z",
            "live_input_errored": {
                "error": {"code": "ERR_GOP_OUT_OF_RANGE",
                          "message": "Input GOP size or keyframe interval is out of range."},
                "video_codec": "", "audio_codec": ""},
        },
        "ts": 1720548474,
    }


def cf_recording(uid: str, live_input: str | None) -> dict[str, Any]:
    """A live input's recording once ready: the video object of
    https://developers.cloudflare.com/stream/stream-live/replay-recordings/ (with
    `liveInput`), as the video webhook of
    https://developers.cloudflare.com/stream/manage-video-library/using-webhooks/ sends it."""
    base = f"https://customer-f33zs165nr7gyfy4.cloudflarestream.com/{uid}"
    body: dict[str, Any] = {
        "uid": uid,
        "thumbnail": f"{base}/thumbnails/thumbnail.jpg",
        "thumbnailTimestampPct": 0,
        "readyToStream": True,
        "status": {"state": "ready", "pctComplete": "100.000000", "errorReasonCode": "",
                   "errorReasonText": ""},
        "meta": {"name": "Stream Live Test 22 Sep 21 22:12 UTC"},
        "created": "2021-09-22T22:12:53.587306Z",
        "modified": "2021-09-23T00:14:05.591333Z",
        "size": 0,
        "preview": f"{base}/watch",
        "allowedOrigins": [],
        "requireSignedURLs": False,
        "uploaded": "2021-09-22T22:12:53.587288Z",
        "uploadExpiry": None,
        "maxSizeBytes": None,
        "maxDurationSeconds": None,
        "duration": 7272,
        "input": {"width": 640, "height": 360},
        "playback": {"hls": f"{base}/manifest/video.m3u8", "dash": f"{base}/manifest/video.mpd"},
        "watermark": None,
    }
    if live_input is not None:
        body["liveInput"] = live_input
    return body


def cf_upload_ready() -> dict[str, Any]:
    """The video webhook's own example body (an uploaded file, no `liveInput`):
    https://developers.cloudflare.com/stream/manage-video-library/using-webhooks/."""
    base = "https://customer-f33zs165nr7gyfy4.cloudflarestream.com/6b9e68b07dfee8cc2d116e4c51d6a957"
    return {
        "uid": "6b9e68b07dfee8cc2d116e4c51d6a957", "creator": None,
        "thumbnail": f"{base}/thumbnails/thumbnail.jpg", "thumbnailTimestampPct": 0,
        "readyToStream": True,
        "status": {"state": "ready", "pctComplete": "39.000000", "errorReasonCode": "",
                   "errorReasonText": ""},
        "meta": {"filename": "small.mp4", "filetype": "video/mp4", "name": "small.mp4",
                 "relativePath": "null", "type": "video/mp4"},
        "created": "2022-06-30T17:53:12.512033Z", "modified": "2022-06-30T17:53:21.774299Z",
        "size": 383631, "preview": f"{base}/watch", "allowedOrigins": [],
        "requireSignedURLs": False, "uploaded": "2022-06-30T17:53:12.511981Z",
        "uploadExpiry": "2022-07-01T17:53:12.511973Z", "maxSizeBytes": None,
        "maxDurationSeconds": None, "duration": 5.5, "input": {"width": 560, "height": 320},
        "playback": {"hls": f"{base}/manifest/video.m3u8", "dash": f"{base}/manifest/video.mpd"},
        "watermark": None,
    }


async def post_cf(api: Api, body: dict[str, Any] | bytes, *, t: int | None = None,
                  secret: str = CLOUDFLARE_SECRET) -> Any:
    """A video webhook, signed with `Webhook-Signature` as Cloudflare signs it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = int(time.time()) if t is None else t
    return await api.http.post("/webhooks/cloudflare", content=raw, headers={
        "Webhook-Signature": CLOUDFLARE.sign(secret, stamp, raw),
        "content-type": "application/json"})


async def post_cf_live(api: Api, body: dict[str, Any] | bytes, *,
                       secret: str | None = CLOUDFLARE_NOTIFY_SECRET) -> Any:
    """A live input notification as Cloudflare Notifications send it: the secret in
    `cf-webhook-auth`."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["cf-webhook-auth"] = secret
    return await api.http.post("/webhooks/cloudflare", content=raw, headers=headers)


async def status_where(ws: Any, check: Any, timeout: float = 5) -> dict[str, Any]:
    """The next `stream:status` push that passes `check` (earlier pushes may still be
    arriving from the start of the stream)."""
    deadline = time.monotonic() + timeout
    while True:
        data = await next_event(ws, "stream:status", max(deadline - time.monotonic(), 0.01))
        if data.get("ingest") and check(data):
            return data


async def wait_status(api: Api, sid: str, status: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view = (await api.http.get(f"/api/streams/{sid}")).json()
        if view.get("status") == status:
            return view
        assert time.monotonic() < deadline, f"stream stayed {view.get('status')}"
        await asyncio.sleep(0.05)


async def read_after(api: Api, sid: str, answer: Any) -> dict[str, Any]:
    """The stream as it stands once the events a webhook's answer stored are read (the
    status and the thumbnail are two events, which the read model may apply apart)."""
    position = answer.json()["position"]
    assert position > 0, answer.text
    r = await api.http.get(f"/api/streams/{sid}", params={"after": position})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_mux_lifecycle_dedup_grace_and_vod(api: Api, server: LiveServer) -> None:
    owner, other = await api.register(), await api.register()
    channel = await api.channel(owner)
    cid, ls = channel["id"], "mux" + uuid.uuid4().hex[:10]

    assert_problem(await api.http.put(f"/api/channels/{cid}/ingest-inputs/mux",
                                      json={"inputId": ls}, headers=other["headers"]), 403)
    assert_problem(await api.http.put(f"/api/channels/{cid}/ingest-inputs/youtube",
                                      json={"inputId": ls}, headers=owner["headers"]),
                   422, "provider")
    r = await api.http.put(f"/api/channels/{cid}/ingest-inputs/mux", json={"inputId": ls},
                           headers=owner["headers"])
    assert r.status_code == 200, r.text

    active = mux_live("video.live_stream.active", ls)
    r = await post_mux(api, active)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "started" and body["status"] == "LIVE" and not body["duplicate"]
    sid = body["streamId"]
    view = (await api.http.get(f"/api/streams/{sid}", params={"after": body["position"]})).json()
    assert view["status"] == "LIVE"
    assert view["hlsUrl"] == f"https://stream.mux.com/PLAYBACK_{ls}.m3u8"
    assert view["thumbnailUrl"] == f"https://image.mux.com/PLAYBACK_{ls}/thumbnail.jpg"
    receipts = count(server, "WebhookReceipt.")

    again = await post_mux(api, active)  # the same event, delivered again (re-signed)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert count(server, "WebhookReceipt.") == receipts

    # Refusals record nothing.
    raw = json.dumps(mux_live("video.live_stream.idle", ls)).encode()
    forged = await api.http.post("/webhooks/mux", content=raw, headers={
        "Mux-Signature": MUX.sign("not-the-secret", int(time.time()), raw)})
    assert_problem(forged, 401)
    assert_problem(await post_mux(api, raw, t=int(time.time()) - 301), 401)
    assert_problem(await api.http.post("/webhooks/mux", content=raw), 401)
    tampered = await api.http.post("/webhooks/mux", content=raw.replace(b"idle", b"idlf"),
                                   headers={"Mux-Signature": MUX.sign(MUX_SECRET,
                                                                      int(time.time()), raw)})
    assert_problem(tampered, 401)
    assert_problem(await post_mux(api, b'{"type": "video.live_stream.idle", "id": "x"}'),
                   400, "data")
    assert_problem(await post_mux(api, b"{not json"), 400, "body")
    assert count(server, "WebhookReceipt.") == receipts
    assert (await api.http.get(f"/api/streams/{sid}")).json()["status"] == "LIVE"

    # Mux keeps the stream open through its reconnect window: a disconnect starts no timer
    # of ours, and an encoder back inside the window goes on with the same stream.
    ws = await api.subscribe(sid)
    r = await post_mux(api, mux_live("video.live_stream.disconnected", ls))
    assert r.json()["outcome"] == "disconnected"
    pushed = await status_where(ws, lambda d: d["ingest"]["state"] == "disconnected")
    assert pushed["status"] == "LIVE" and pushed["ingest"]["graceUntil"] is None
    await asyncio.sleep(GRACE_S + 0.5)  # past our nginx grace: Mux's window is what counts
    assert (await api.http.get(f"/api/streams/{sid}")).json()["status"] == "LIVE"
    r = await post_mux(api, mux_live("video.live_stream.connected", ls))
    assert r.json()["outcome"] == "reconnected" and r.json()["streamId"] == sid
    await status_where(ws, lambda d: d["ingest"]["state"] == "connected")

    # Gone for good: Mux's window runs out and it says `idle`: ENDING, then the asset
    # archives it.
    await post_mux(api, mux_live("video.live_stream.disconnected", ls))
    r = await post_mux(api, mux_live("video.live_stream.idle", ls, status="idle"))
    assert r.json()["outcome"] == "ended"
    ended_at = r.json()["position"]
    ending = await wait_status(api, sid, "ENDING")
    assert ending["endTime"] and ending["duration"] >= 1
    page = (await api.http.get(f"/api/channels/{channel['slug']}",
                               params={"after": ended_at})).json()
    assert page["isLive"] is False
    r = await post_mux(api, mux_asset("video.asset.ready", ls))
    assert r.json()["outcome"] == "archived", r.text
    archived = await read_after(api, sid, r)
    assert archived["status"] == "ARCHIVED"
    assert archived["vodUrl"] == f"https://stream.mux.com/VOD_{ls}.m3u8"
    assert archived["thumbnailUrl"] == f"https://image.mux.com/VOD_{ls}/thumbnail.jpg"
    r = await post_mux(api, mux_asset("video.asset.live_stream_completed", ls))
    assert r.status_code == 200 and r.json()["outcome"] == "already archived"
    vod = (await api.http.get(f"/api/channels/{cid}/vod")).json()["items"]
    assert [v["id"] for v in vod] == [sid] and vod[0]["vodUrl"] == archived["vodUrl"]
    # The past streams list carries the stream's details too (its pages show thumbnails).
    assert vod[0]["thumbnailUrl"] == archived["thumbnailUrl"]
    assert vod[0]["category"] == archived["category"]
    assert count(server, "Stream.Created") == 1  # one broadcast throughout
    await ws.close()


async def test_mux_idle_ends_at_once_and_unbound_input_is_acknowledged(
    api: Api, server: LiveServer
) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    ls = "mux" + uuid.uuid4().hex[:10]
    await api.http.put(f"/api/channels/{channel['id']}/ingest-inputs/mux",
                       json={"inputId": ls}, headers=owner["headers"])
    sid = (await post_mux(api, mux_live("video.live_stream.active", ls))).json()["streamId"]
    r = await post_mux(api, mux_live("video.live_stream.idle", ls, status="idle"))
    assert r.json()["outcome"] == "ended" and r.json()["status"] == "ENDING"
    r = await post_mux(api, mux_asset("video.asset.live_stream_completed", ls))
    assert r.json()["outcome"] == "archived"
    await wait_status(api, sid, "ARCHIVED")

    # An input no channel has bound: acknowledged (a provider retries anything else) and
    # nothing recorded, however often it comes.
    before, receipts = count(server, "Stream."), count(server, "WebhookReceipt.")
    for event in ("video.live_stream.active", "video.live_stream.disconnected",
                  "video.live_stream.idle"):
        r = await post_mux(api, mux_live(event, "nobody-bound-this"))
        assert r.status_code == 200 and r.json()["outcome"].startswith("ignored"), r.text
    r = await post_mux(api, mux_asset("video.asset.ready", "nobody-bound-this"))
    assert r.status_code == 200 and r.json()["outcome"].startswith("ignored")
    assert count(server, "Stream.") == before
    assert count(server, "WebhookReceipt.") == receipts


async def test_mux_stream_is_starting_until_active(api: Api, server: LiveServer) -> None:
    """Mux sends `connected` and `recording` 10-20 s before `active`, when the playlist
    starts to play: until then the stream page offers no playlist and says "starting"."""
    owner = await api.register()
    channel = await api.channel(owner)
    ls = "mux" + uuid.uuid4().hex[:10]
    await api.http.put(f"/api/channels/{channel['id']}/ingest-inputs/mux",
                       json={"inputId": ls}, headers=owner["headers"])
    r = await post_mux(api, mux_live("video.live_stream.connected", ls, status="idle"))
    assert r.json()["outcome"] == "starting" and r.json()["status"] == "LIVE", r.text
    sid, position = r.json()["streamId"], r.json()["position"]
    page = (await api.http.get(f"/api/channels/{channel['slug']}",
                               params={"after": position})).json()
    current = page["currentStream"]
    assert page["isLive"] and current["id"] == sid
    assert current["hlsUrl"] is None and current["ingest"]["state"] == "starting"
    assert current["thumbnailUrl"] is None
    playback = await api.http.get(f"/api/stream/{sid}/hls")
    assert_problem(playback, 409, "status")
    assert "starting" in playback.json()["detail"]
    stream_events = count(server, "Stream.")
    r = await post_mux(api, mux_live("video.live_stream.recording", ls, status="idle"))
    assert r.json()["outcome"] == "unchanged" and count(server, "Stream.") == stream_events

    r = await post_mux(api, mux_live("video.live_stream.active", ls))
    assert r.json()["streamId"] == sid and r.json()["position"] > 0
    playback = await api.http.get(f"/api/stream/{sid}/hls",
                                  params={"after": r.json()["position"]})
    assert playback.status_code == 200, playback.text
    assert playback.json()["hlsUrl"] == f"https://stream.mux.com/PLAYBACK_{ls}.m3u8"
    view = (await api.http.get(f"/api/streams/{sid}")).json()
    assert view["ingest"]["state"] == "connected"
    thumbnail = f"https://image.mux.com/PLAYBACK_{ls}/thumbnail.jpg"
    assert view["thumbnailUrl"] == thumbnail
    # the browse answers show it too
    after = {"after": r.json()["position"]}
    streams = (await api.http.get("/api/streams", params={"status": "LIVE", **after})).json()
    assert {s["id"]: s["thumbnailUrl"] for s in streams["items"]}[sid] == thumbnail
    channels = (await api.http.get("/api/channels", params={"live": "true", **after})).json()
    [listed] = [c for c in channels["items"] if c["id"] == channel["id"]]
    assert listed["currentStream"]["thumbnailUrl"] == thumbnail
    assert count(server, "Stream.Created") == 1


async def test_cloudflare_lifecycle_and_refusals(api: Api, server: LiveServer) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    cid, input_id = channel["id"], uuid.uuid4().hex
    bind = f"/api/channels/{cid}/ingest-inputs/cloudflare"
    r = await api.http.put(bind, json={"inputId": input_id}, headers=owner["headers"])
    assert r.status_code == 200, r.text
    assert r.json()["position"] > 0 and r.json()["inputId"] == input_id
    again = await api.http.put(bind, json={"inputId": input_id}, headers=owner["headers"])
    assert again.status_code == 200 and again.json()["position"] == 0  # already ours
    # One input, one channel: another owner cannot take it for theirs, and a stranger
    # may not bind anything to that channel.
    rival = await api.register()
    other = await api.channel(rival)
    rebind = f"/api/channels/{other['id']}/ingest-inputs/cloudflare"
    assert_problem(await api.http.put(rebind, json={"inputId": input_id},
                                      headers=rival["headers"]), 409, "inputId")
    assert_problem(await api.http.put(rebind, json={"inputId": uuid.uuid4().hex},
                                      headers=owner["headers"]), 403)

    connected = cf_live("live_input.connected", input_id, "2026-11-25T11:43:41.855717910Z")
    r = await post_cf_live(api, connected)
    assert r.status_code == 200 and r.json()["outcome"] == "started", r.text
    sid = r.json()["streamId"]
    view = (await api.http.get(f"/api/streams/{sid}", params={"after": r.json()["position"]}))
    assert view.json()["channelId"] == cid  # the input still broadcasts for its first channel
    assert view.json()["hlsUrl"] == (
        f"https://videodelivery.net/{input_id}/manifest/video.m3u8")
    assert view.json()["thumbnailUrl"] == (
        f"https://videodelivery.net/{input_id}/thumbnails/thumbnail.jpg")
    page = (await api.http.get(f"/api/channels/{other['slug']}",
                               params={"after": other["position"]})).json()
    assert page["isLive"] is False
    receipts = count(server, "WebhookReceipt.")
    assert (await post_cf_live(api, connected)).json()["duplicate"] is True

    # Each kind by its own scheme: a live notification needs the Notifications secret
    # (an HMAC signature does not stand in for it), a video webhook the HMAC signature.
    raw = json.dumps(cf_live("live_input.disconnected", input_id, "x")).encode()
    assert_problem(await post_cf_live(api, raw, secret="wrong"), 401)
    assert_problem(await post_cf_live(api, raw, secret=CLOUDFLARE_NOTIFY_SECRET[:-1]), 401)
    assert_problem(await post_cf_live(api, raw, secret=None), 401)
    assert_problem(await post_cf(api, raw), 401)  # validly signed, but the wrong scheme
    video = json.dumps(cf_recording(uuid.uuid4().hex, input_id)).encode()
    assert_problem(await post_cf_live(api, video), 401)
    assert_problem(await post_cf(api, video, secret="wrong"), 401)
    assert_problem(await post_cf(api, video, t=int(time.time()) + 400), 401)
    assert_problem(await api.http.post("/webhooks/cloudflare", content=video, headers={
        "Webhook-Signature": "time=1,sig1=00"}), 401)
    assert_problem(await post_cf_live(api, b'{"name": "no data"}'), 400, "data")
    assert_problem(await post_cf_live(api, b'{"data": {"input_id": 5}}'), 400)
    assert count(server, "WebhookReceipt.") == receipts

    # errored reports the input's media, not a disconnect: the stream goes on
    r = await post_cf_live(api, cf_errored(input_id))
    assert r.status_code == 200 and r.json()["outcome"] == "ignored", r.text
    assert (await api.http.get(f"/api/streams/{sid}")).json()["status"] == "LIVE"
    # Cloudflare ends a live video once the input is gone (recording.timeoutSeconds, 0 by
    # default): so does the stream
    r = await post_cf_live(api, cf_live("live_input.disconnected", input_id,
                                        "2026-11-25T11:44:00.000000000Z"))
    assert r.json()["outcome"] == "disconnected"
    await wait_status(api, sid, "ENDING")

    # The recording, matched by its `liveInput`, archives it with Cloudflare's thumbnail.
    ready = cf_recording(uuid.uuid4().hex, input_id)
    r = await post_cf(api, ready)
    assert r.json()["outcome"] == "archived", r.text
    archived = await read_after(api, sid, r)
    assert archived["status"] == "ARCHIVED"
    assert archived["vodUrl"] == ready["playback"]["hls"]
    assert archived["thumbnailUrl"] == ready["thumbnail"]

    # An upload's "ready" (the docs' example: no live input named) is no recording of
    # ours: acknowledged, nothing recorded.
    receipts = count(server, "WebhookReceipt.")
    r = await post_cf(api, cf_upload_ready())
    assert r.status_code == 200 and r.json()["outcome"].startswith("ignored"), r.text
    assert count(server, "WebhookReceipt.") == receipts


async def test_cloudflare_recording_matched_without_live_input(api: Api,
                                                               server: LiveServer) -> None:
    """A ready recording whose body does not name `liveInput` is matched by the input's
    `meta` (`liveInput`, or our channel's id as `channelId`), set when the input was made."""
    owner = await api.register()
    channel = await api.channel(owner)
    input_id = uuid.uuid4().hex
    await api.http.put(f"/api/channels/{channel['id']}/ingest-inputs/cloudflare",
                       json={"inputId": input_id}, headers=owner["headers"])
    r = await post_cf_live(api, cf_live("live_input.connected", input_id, "t1"))
    sid = r.json()["streamId"]
    ready = cf_recording(uuid.uuid4().hex, None)
    ready["meta"] = {"name": "Stream Live Test", "channelId": channel["id"]}
    r = await post_cf(api, ready)  # final: ends the live stream and archives it at once
    assert r.json()["outcome"] == "archived" and r.json()["streamId"] == sid, r.text
    view = await wait_status(api, sid, "ARCHIVED")
    assert view["vodUrl"] == ready["playback"]["hls"]


async def test_nginx_hooks_refuse_bad_input_without_echoing_keys(api: Api,
                                                                 server: LiveServer) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    key = (await api.http.get(f"/api/channels/{channel['id']}/stream-key",
                              headers=owner["headers"])).json()["streamKey"]
    wrong = key[:-3] + ("aaa" if not key.endswith("aaa") else "bbb")
    r = await api.http.post("/webhooks/nginx-rtmp/on_publish",
                            data={"call": "publish", "name": wrong, "app": "live"})
    assert_problem(r, 403, "name")
    assert wrong not in r.text and key not in r.text
    assert_problem(await api.http.post("/webhooks/nginx-rtmp/on_publish",
                                       data={"call": "publish", "app": "live"}), 422, "name")
    assert_problem(await api.http.post("/webhooks/nginx-rtmp/on_publish",
                                       data={"call": "play", "name": key}), 422, "call")
    assert_problem(await api.http.post("/webhooks/nginx-rtmp/on_record_done", data={
        "call": "record_done", "name": "not-a-stream", "path": "/x.flv"}), 422, "name")
    assert count(server, "WebhookReceipt.") == 0 and count(server, "Stream.") == 0

    r = await api.http.post("/webhooks/nginx-rtmp/on_publish",
                            data={"call": "publish", "name": key, "app": "live"})
    assert r.status_code == 302, r.text
    sid = r.json()["streamId"]
    assert r.headers["location"].endswith(f"/hls/{sid}") and key not in r.headers["location"]
    # The owner's dashboard sees the same stream; going live again by hand is a conflict.
    again = await api.http.post(f"/api/streams/{channel['id']}/start", json={},
                                headers=owner["headers"])
    assert_problem(again, 409)
    r = await api.http.post("/webhooks/nginx-rtmp/on_publish",  # the encoder reconnects
                            data={"call": "publish", "name": key, "app": "live"})
    assert r.status_code == 302 and r.json()["streamId"] == sid
    assert r.json()["outcome"] == "unchanged"


async def test_nginx_hooks_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    with ingest_server("embedded", tmp_path, ingest_hook_token="hook-token-123") as server:
        api = Api(server.url, server.ws_url)
        try:
            form = {"call": "publish", "name": "whatever", "app": "live"}
            assert_problem(await api.http.post("/webhooks/nginx-rtmp/on_publish", data=form),
                           401, "token")
            assert_problem(await api.http.post("/webhooks/nginx-rtmp/on_publish?token=nope",
                                               data=form), 401, "token")
            r = await api.http.post("/webhooks/nginx-rtmp/on_publish?token=hook-token-123",
                                    data=form)
            assert_problem(r, 403, "name")
        finally:
            await api.close()


async def test_a_pending_grace_survives_a_restart(tmp_path: Path) -> None:
    """The deadline lives in the events and the read model, not in a timer in memory."""
    with ingest_server("embedded", tmp_path, ingest_reconnect_grace_s=3.0) as server:
        api = Api(server.url, server.ws_url)
        try:
            owner = await api.register()
            channel = await api.channel(owner)
            key = (await api.http.get(f"/api/channels/{channel['id']}/stream-key",
                                      headers=owner["headers"])).json()["streamKey"]
            form = {"name": key, "app": "live"}
            r = await api.http.post("/webhooks/nginx-rtmp/on_publish",
                                    data={**form, "call": "publish"})
            sid = r.json()["streamId"]
            r = await api.http.post("/webhooks/nginx-rtmp/on_publish_done",
                                    data={**form, "call": "publish_done"})
            assert r.json()["outcome"] == "disconnected"
            view = (await api.http.get(f"/api/streams/{sid}",
                                       params={"after": r.json()["position"]})).json()
            assert view["status"] == "LIVE" and view["ingest"]["state"] == "disconnected"
        finally:
            await api.close()
    # The process is gone before the grace ran out; a new one on the same data ends it.
    restarted_at = datetime.now(UTC).isoformat()
    with ingest_server("embedded", tmp_path) as server:
        api = Api(server.url, server.ws_url)
        try:
            ended = await wait_status(api, sid, "ENDING", timeout=10)
            assert ended["ingest"]["state"] == "ended"
            assert ended["endTime"] > restarted_at  # ended by the new process
        finally:
            await api.close()


async def test_concurrent_redeliveries_apply_once(api: Api, server: LiveServer) -> None:
    owner = await api.register()
    channel = await api.channel(owner)
    ls = "mux" + uuid.uuid4().hex[:10]
    await api.http.put(f"/api/channels/{channel['id']}/ingest-inputs/mux",
                       json={"inputId": ls}, headers=owner["headers"])
    active = mux_live("video.live_stream.active", ls)
    replies = await asyncio.gather(*(post_mux(api, active) for _ in range(6)))
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    outcomes = sorted(r.json()["outcome"] for r in replies)
    assert outcomes == ["duplicate"] * 5 + ["started"]
    assert count(server, "Stream.Created") == 1 and count(server, "WebhookReceipt.") == 1


async def test_streaming_config_and_vod_of_unknown_channel(api: Api) -> None:
    config = (await api.http.get("/api/ingest/config")).json()
    assert config["provider"] == "nginx-rtmp" and config["ingestUrl"].startswith("rtmp://")
    assert "{playback_id}" in config["playbackTemplate"] and config["qualities"]
    assert_problem(await api.http.get(f"/api/channels/{uuid.uuid4()}/vod"), 404)
    owner = await api.register()
    channel = await api.channel(owner)
    assert (await api.http.get(f"/api/channels/{channel['id']}/vod")).json() == {"items": []}
