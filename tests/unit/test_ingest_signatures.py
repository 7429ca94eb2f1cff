"""Provider signatures and bodies: Mux-Signature and Cloudflare's
Webhook-Signature as the providers document them, and body parsing."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from domain.errors import Unauthenticated
from infra.ingest import cloudflare, mux
from infra.ingest.nginx_rtmp import TEMPLATE, render_config
from infra.ingest.signal import Malformed
from infra.ingest.signatures import CLOUDFLARE, MUX

BODY = b'{"type":"video.live_stream.active","id":"e1","data":{"id":"ls1"}}'


def test_mux_signature_is_hmac_sha256_hex_over_t_dot_body() -> None:
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    header = f"t=1700000000,v1={expected}"
    assert MUX.verify("s3cret", header, BODY, tolerance_s=300, now=1700000100) == 1700000000
    assert MUX.sign("s3cret", 1700000000, BODY) == header


@pytest.mark.parametrize("header,now", [
    (None, 1700000000),
    ("", 1700000000),
    ("t=1700000000", 1700000000),
    ("v1=abc", 1700000000),
    ("t=soon,v1=abc", 1700000000),
    ("t=1700000000,v1=" + "0" * 64, 1700000000),
    ("SIGNED", 1700000301),  # valid signature, 301 s old
])
def test_mux_signature_refusals(header: str | None, now: int) -> None:
    if header == "SIGNED":
        header = MUX.sign("s3cret", 1700000000, BODY)
    with pytest.raises(Unauthenticated):
        MUX.verify("s3cret", header, BODY, tolerance_s=300, now=now)


def test_cloudflare_signature_uses_time_and_sig1() -> None:
    expected = hmac.new(b"k", b"1230811200." + BODY, hashlib.sha256).hexdigest()
    header = f"time=1230811200,sig1={expected}"
    assert CLOUDFLARE.verify("k", header, BODY, tolerance_s=300, now=1230811201) == 1230811200
    with pytest.raises(Unauthenticated):
        CLOUDFLARE.verify("k", header, BODY + b" ", tolerance_s=300, now=1230811201)
    with pytest.raises(Unauthenticated):
        CLOUDFLARE.verify("k", header.replace("sig1", "v1"), BODY, tolerance_s=300,
                          now=1230811201)


def test_mux_parse_maps_types_and_playback() -> None:
    body = {"type": "video.live_stream.disconnected", "id": "ev", "data": {
        "id": "ls", "playback_ids": [{"id": "sig", "policy": "signed"},
                                     {"id": "pub", "policy": "public"}],
        "active_asset_id": "a1", "passthrough": "chan"}}
    signal = mux.parse(json.dumps(body).encode(), vod_template="v/{playback_id}")
    assert (signal.kind, signal.external_id, signal.playback_id, signal.asset_id) == (
        "disconnected", "ls", "pub", "a1")
    asset = {"type": "video.asset.ready", "id": "ev2",
             "data": {"id": "a1", "playback_ids": [{"id": "vod"}], "live_stream_id": "ls"}}
    signal = mux.parse(json.dumps(asset).encode(), vod_template="v/{playback_id}",
                       thumbnail_template="i/{playback_id}/thumbnail.jpg")
    assert (signal.kind, signal.external_id, signal.vod_url, signal.thumbnail_url) == (
        "recording", "ls", "v/vod", "i/vod/thumbnail.jpg")
    kinds = {t: mux.parse(json.dumps({**body, "type": t}).encode(), vod_template="").kind
             for t in ("video.live_stream.connected", "video.live_stream.recording",
                       "video.live_stream.active", "video.live_stream.idle")}
    assert kinds == {"video.live_stream.connected": "starting",
                     "video.live_stream.recording": "starting",
                     "video.live_stream.active": "connected",
                     "video.live_stream.idle": "ended"}
    body["data"]["reconnect_window"] = 60
    assert mux.parse(json.dumps(body).encode(), vod_template="").provider_window_s == 60
    upload = {"type": "video.asset.ready", "id": "ev3", "data": {"id": "a2"}}
    assert mux.parse(json.dumps(upload).encode(), vod_template="").kind == "ignored"
    with pytest.raises(Malformed) as bad:
        mux.parse(b'{"type": "x", "id": "y", "data": {"id": 5}}', vod_template="")
    assert bad.value.field == "data.id"


def test_cloudflare_parse_live_and_video() -> None:
    live = {"name": "n", "data": {"notification_name": "Stream Live Input", "input_id": "i1",
                                  "event_type": "live_input.disconnected",
                                  "updated_at": "2022-01-13T11:43:41Z"}, "ts": 1}
    raw = json.dumps(live).encode()
    assert cloudflare.is_live_notification(raw)
    signal = cloudflare.parse_live(raw)
    assert (signal.kind, signal.external_id) == ("disconnected", "i1")
    assert signal.event_id == "i1:live_input.disconnected:2022-01-13T11:43:41Z"
    # errored is a problem with the media, not a disconnect: kept, with its code
    live["data"] |= {"event_type": "live_input.errored", "live_input_errored": {
        "error": {"code": "ERR_GOP_OUT_OF_RANGE", "message": "m"}}}
    signal = cloudflare.parse_live(json.dumps(live).encode())
    assert (signal.kind, signal.event_type) == (
        "ignored", "live_input.errored:ERR_GOP_OUT_OF_RANGE")
    video = {"uid": "u1", "readyToStream": True, "status": {"state": "ready"},
             "liveInput": "i1", "playback": {"hls": "h"}, "thumbnail": "t"}
    assert not cloudflare.is_live_notification(json.dumps(video).encode())
    signal = cloudflare.parse_video(json.dumps(video).encode())
    assert (signal.kind, signal.vod_url, signal.external_id, signal.thumbnail_url) == (
        "final_recording", "h", "i1", "t")
    del video["liveInput"]
    for extra, external, hint in (({"input": {"uid": "i2"}}, "i2", None),
                                  ({"meta": {"liveInput": "i3"}}, "i3", None),
                                  ({"meta": {"channelId": "c"}}, None, "c")):
        signal = cloudflare.parse_video(json.dumps({**video, **extra}).encode())
        assert (signal.kind, signal.external_id, signal.channel_hint) == (
            "final_recording", external, hint)
    # an upload (nothing names a live input) is no recording of ours
    signal = cloudflare.parse_video(json.dumps({**video, "meta": {"name": "x.mp4"}}).encode())
    assert signal.kind == "ignored"
    with pytest.raises(Malformed):
        cloudflare.is_live_notification(b"[]")
    cloudflare.verify_notification("s3cret", "s3cret")
    for wrong in (None, "", "s3cre", "s3cret "):
        with pytest.raises(Unauthenticated):
            cloudflare.verify_notification("s3cret", wrong)


def test_nginx_template_renders_every_placeholder() -> None:
    values = {name: f"<{name}>" for name in (
        "MODULE_PATH", "NGINX_USER", "NGINX_PREFIX", "RTMP_LISTEN", "HTTP_LISTEN", "HOOK_BASE",
        "HOOK_QUERY", "HLS_DIR", "RECORD_DIR", "HLS_FRAGMENT", "HLS_PLAYLIST_LENGTH",
        "HLS_SOURCE", "HLS_SOURCE_SUBDIR", "HLS_LADDER", "LADDER_EXEC", "HLS_MASTER",
        "STAT_LISTEN",
        "UPDATE_INTERVAL")}
    text = render_config(values)
    assert "${" not in text and "on_publish <HOOK_BASE>/on_publish<HOOK_QUERY>;" in text
    with pytest.raises(KeyError):
        render_config({}, TEMPLATE)
