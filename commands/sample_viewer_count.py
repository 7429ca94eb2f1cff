"""SampleViewerCount: record a live stream's viewer count when it has changed, so peaks
are exact and replayable (presence itself is never an event)."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.stream import Stream


class SampleViewerCount(msgspec.Struct, frozen=True, kw_only=True):
    stream_id: UUID
    count: int


def sample_viewer_count(cmd: SampleViewerCount, store: Store) -> int:
    """Returns the position of the recorded sample, or 0 when nothing changed."""
    stream = store.get(cmd.stream_id, Stream)
    return store.save(stream) if stream.sample_viewers(cmd.count) else 0
