"""Mux: live stream and asset webhooks (their documented JSON), signed with Mux-Signature.

`video.live_stream.connected` and `.recording` mean Mux has the encoder, and `.active` that
the stream is playable (10-20 s later): until then the stream is LIVE but "starting", with
no playlist. `.disconnected` only marks the encoder gone: Mux keeps the stream open for its
`reconnect_window` (60 s by default) and says when that is over with `.idle`, which ends
the stream. `video.asset.ready` gives the recording's playback id (the VOD URL and its
thumbnail) and `video.asset.live_stream_completed` says the broadcast and its asset are
final. The events, their order and the window: the "Handle Live Stream Disconnects" guide,
https://www.mux.com/docs/guides/handle-live-stream-disconnects; thumbnails:
https://www.mux.com/docs/guides/get-images-from-a-video.
"""

from __future__ import annotations

import msgspec

from commands.ports import IngestSignal, Kind
from infra.ingest.signal import decode

PROVIDER = "mux"

KINDS: dict[str, Kind] = {
    "video.live_stream.connected": "starting",
    "video.live_stream.recording": "starting",
    "video.live_stream.active": "connected",
    "video.live_stream.disconnected": "disconnected",
    "video.live_stream.idle": "ended",
    "video.asset.ready": "recording",
    "video.asset.live_stream_completed": "final_recording",
}


class PlaybackId(msgspec.Struct):
    id: str
    policy: str = "public"


class Data(msgspec.Struct):
    id: str
    status: str | None = None
    playback_ids: list[PlaybackId] = []
    passthrough: str | None = None
    live_stream_id: str | None = None
    active_asset_id: str | None = None
    reconnect_window: float | None = None


class Event(msgspec.Struct):
    type: str
    id: str
    data: Data
    created_at: str | None = None


def _public_playback(ids: list[PlaybackId]) -> str | None:
    for policy in ("public", "signed"):
        for p in ids:
            if p.policy == policy:
                return p.id
    return ids[0].id if ids else None


def parse(body: bytes, *, vod_template: str, thumbnail_template: str | None = None
          ) -> IngestSignal:
    event = decode(body, Event)
    kind = KINDS.get(event.type, "ignored")
    d = event.data
    is_asset = event.type.startswith("video.asset.")
    playback_id = _public_playback(d.playback_ids)
    if is_asset and d.live_stream_id is None:
        kind = "ignored"  # an uploaded video, not a broadcast's recording
    return IngestSignal(
        provider=PROVIDER,
        event_id=event.id,
        event_type=event.type,
        kind=kind,
        external_id=d.live_stream_id if is_asset else d.id,
        channel_hint=d.passthrough,
        playback_id=None if is_asset else playback_id,
        asset_id=d.id if is_asset else d.active_asset_id,
        vod_url=vod_template.replace("{playback_id}", playback_id)
        if is_asset and playback_id else None,
        thumbnail_url=thumbnail_template.replace("{playback_id}", playback_id)
        if is_asset and playback_id and thumbnail_template else None,
        provider_window_s=d.reconnect_window,
    )
