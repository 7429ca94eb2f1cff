"""Cloudflare Stream: two kinds of notification, each authenticated its own way.

- Live input events (`live_input.connected`, `.disconnected`, `.errored`) come through
  Cloudflare Notifications webhooks, which carry the destination's secret in the
  `cf-webhook-auth` header (https://developers.cloudflare.com/notifications/get-started/configure-webhooks/;
  bodies: https://developers.cloudflare.com/stream/stream-live/webhooks/).
- Video webhooks (a video, such as a live input's recording, is ready) are signed with
  `Webhook-Signature: time=..,sig1=..`
  (https://developers.cloudflare.com/stream/manage-video-library/using-webhooks/). A
  recording names its live input in `liveInput` (the video object of
  https://developers.cloudflare.com/stream/stream-live/replay-recordings/); a body without it
  is matched by `input.uid`, or by `meta.liveInput` / `meta.channelId` set on the input.

Cloudflare gives live notifications no id of their own; the input, the event type and
its `updated_at` name one notification, which is what we deduplicate by.
"""

from __future__ import annotations

import hmac
from typing import Any

import msgspec

from commands.ports import IngestSignal, Kind
from domain.errors import Unauthenticated
from infra.ingest.signal import Malformed, decode

PROVIDER = "cloudflare"
AUTH_HEADER = "cf-webhook-auth"

# `errored` reports a problem with the input's media (a codec, the keyframe interval), not
# that the encoder went away: Cloudflare sends `disconnected` for that.
KINDS: dict[str, Kind] = {
    "live_input.connected": "connected",
    "live_input.disconnected": "disconnected",
}


class ErrorDetail(msgspec.Struct):
    code: str | None = None
    message: str | None = None


class LiveInputErrored(msgspec.Struct):
    error: ErrorDetail | None = None


class LiveData(msgspec.Struct):
    input_id: str
    event_type: str
    notification_name: str | None = None
    updated_at: str | None = None
    live_input_errored: LiveInputErrored | None = None


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
    thumbnail: str | None = None
    input: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None


def is_live_notification(body: bytes) -> bool:
    """Whether a body is a live input notification (else a video webhook's body)."""
    raw = decode(body, dict)
    if "uid" in raw:
        return False
    if "data" not in raw:
        raise Malformed("the body is neither a live input nor a video notification",
                        field="data")
    return True


def verify_notification(secret: str, header: str | None) -> None:
    """Cloudflare Notifications send the destination's secret as it is: compared in
    constant time."""
    if not header:
        raise Unauthenticated(f"missing {AUTH_HEADER} header")
    if not hmac.compare_digest(header.encode(), secret.encode()):
        raise Unauthenticated(f"{AUTH_HEADER} does not match")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _live_input_of(video: VideoEvent) -> str | None:
    meta = video.meta or {}
    return (video.liveInput or _text((video.input or {}).get("uid"))
            or _text(meta.get("liveInput")))


def parse_video(body: bytes) -> IngestSignal:
    """A video webhook: a live input's recording that is ready archives its stream."""
    video = decode(body, VideoEvent)
    ready = video.readyToStream and video.status.state == "ready"
    live_input = _live_input_of(video)
    channel_hint = _text((video.meta or {}).get("channelId"))
    recording = ready and (live_input is not None or channel_hint is not None)
    return IngestSignal(
        provider=PROVIDER,
        event_id=f"video:{video.uid}:{video.status.state}",
        event_type=f"video.{video.status.state}",
        kind="final_recording" if recording else "ignored",
        external_id=live_input,
        channel_hint=channel_hint,
        asset_id=video.uid,
        vod_url=video.playback.hls if video.playback else None,
        thumbnail_url=video.thumbnail,
    )


def parse_live(body: bytes) -> IngestSignal:
    """A Notifications webhook about a live input."""
    event = decode(body, LiveEvent)
    d = event.data
    stamp = d.updated_at or str(event.ts or "")
    event_type = d.event_type
    error = d.live_input_errored.error if d.live_input_errored else None
    if error is not None and error.code:
        event_type = f"{event_type}:{error.code}"
    return IngestSignal(
        provider=PROVIDER,
        event_id=f"{d.input_id}:{d.event_type}:{stamp}",
        event_type=event_type,
        kind=KINDS.get(d.event_type, "ignored"),
        external_id=d.input_id,
        playback_id=d.input_id,
    )
