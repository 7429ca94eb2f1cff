"""Cloudflare Stream: Stream Live input webhooks (`live_input.connected`, `.disconnected`,
`.errored`) and the video webhook that says a live input's recording is ready to stream,
all signed with `Webhook-Signature: time=..,sig1=..`.

Cloudflare gives live notifications no id of their own; the input, the event type and
its `updated_at` name one notification, which is what we deduplicate by.
"""

from __future__ import annotations

import msgspec

from commands.ports import IngestSignal, Kind
from infra.ingest.signal import Malformed, decode

PROVIDER = "cloudflare"

KINDS: dict[str, Kind] = {
    "live_input.connected": "connected",
    "live_input.disconnected": "disconnected",
    "live_input.errored": "disconnected",
}


class LiveData(msgspec.Struct):
    input_id: str
    event_type: str
    notification_name: str | None = None
    updated_at: str | None = None


class LiveEvent(msgspec.Struct):
    data: LiveData
    name: str | None = None
    text: str | None = None
    ts: int | None = None


class Playback(msgspec.Struct):
    hls: str | None = None
    dash: str | None = None


class VideoStatus(msgspec.Struct):
    state: str


class VideoEvent(msgspec.Struct):
    uid: str
    readyToStream: bool  # Cloudflare's own field names
    status: VideoStatus
    liveInput: str | None = None
    playback: Playback | None = None


def parse(body: bytes) -> IngestSignal:
    raw = decode(body, dict)
    if "uid" in raw:  # a video (a live input's recording) webhook
        video = decode(body, VideoEvent)
        ready = video.readyToStream and video.status.state == "ready"
        return IngestSignal(
            provider=PROVIDER,
            event_id=f"video:{video.uid}:{video.status.state}",
            event_type=f"video.{video.status.state}",
            kind="final_recording" if ready and video.liveInput else "ignored",
            external_id=video.liveInput,
            asset_id=video.uid,
            vod_url=video.playback.hls if video.playback else None,
        )
    if "data" not in raw:
        raise Malformed("the body is neither a live input nor a video notification",
                        field="data")
    event = decode(body, LiveEvent)
    d = event.data
    stamp = d.updated_at or str(event.ts or "")
    return IngestSignal(
        provider=PROVIDER,
        event_id=f"{d.input_id}:{d.event_type}:{stamp}",
        event_type=d.event_type,
        kind=KINDS.get(d.event_type, "ignored"),
        external_id=d.input_id,
        playback_id=d.input_id,
    )
