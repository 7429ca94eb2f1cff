"""Where viewers will watch a stream that an ingest starts: the provider, its HLS URL and
its thumbnail."""

from __future__ import annotations

import msgspec

from domain.stream import Stream


class PlaybackPlan(msgspec.Struct, frozen=True, kw_only=True):
    """`playback_id` None means the stream's own id (nginx-rtmp names its HLS by it);
    `hls_template` and `thumbnail_template` are formatted with `{playback_id}`. `ready`
    False: the provider has the encoder but nothing is playable yet (Mux before `active`),
    so no playlist is offered."""

    provider: str
    hls_template: str
    playback_id: str | None = None
    thumbnail_template: str | None = None
    ready: bool = True


def assign_playback(stream: Stream, plan: PlaybackPlan) -> bool:
    """Records the stream's playback (and the provider's thumbnail) as the plan names it,
    or that it is still starting; False when nothing changed."""
    if not plan.ready:
        return stream.ingest_starting(plan.provider)
    playback_id = plan.playback_id or str(stream.id)
    hls_url = plan.hls_template.replace("{playback_id}", playback_id)
    changed = stream.assign_playback(plan.provider, playback_id, hls_url)
    if plan.thumbnail_template:
        changed = stream.change_thumbnail(
            plan.thumbnail_template.replace("{playback_id}", playback_id)) or changed
    return changed
