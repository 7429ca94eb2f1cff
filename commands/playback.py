"""Where viewers will watch a stream that an ingest starts: the provider and its HLS URL."""

from __future__ import annotations

import msgspec

from domain.stream import Stream


class PlaybackPlan(msgspec.Struct, frozen=True, kw_only=True):
    """`playback_id` None means the stream's own id (nginx-rtmp names its HLS by it);
    `hls_template` is formatted with `{playback_id}`."""

    provider: str
    hls_template: str
    playback_id: str | None = None


def assign_playback(stream: Stream, plan: PlaybackPlan) -> bool:
    """Records the stream's playback as the plan names it; False when unchanged."""
    playback_id = plan.playback_id or str(stream.id)
    hls_url = plan.hls_template.replace("{playback_id}", playback_id)
    return stream.assign_playback(plan.provider, playback_id, hls_url)
