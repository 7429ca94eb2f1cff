"""The Stream aggregate: one broadcast, OFFLINE -> LIVE -> ENDING -> ARCHIVED, never back."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import Conflict, Invalid


class StreamStatus(StrEnum):
    OFFLINE = "OFFLINE"
    LIVE = "LIVE"
    ENDING = "ENDING"
    ARCHIVED = "ARCHIVED"


NEXT_STATUS = {
    StreamStatus.OFFLINE: StreamStatus.LIVE,
    StreamStatus.LIVE: StreamStatus.ENDING,
    StreamStatus.ENDING: StreamStatus.ARCHIVED,
}


def clean_title(title: str | None) -> str:
    value = (title or "").strip() or "Untitled stream"
    if len(value) > 140:
        raise Invalid("title must be at most 140 characters", field="title")
    return value


class Stream(Aggregate):
    """A broadcast of a channel. Every event names its channel, for routing and projections."""

    class Created(Aggregate.Created):
        channel_id: UUID
        owner_id: UUID
        title: str

    class Started(Aggregate.Event):
        channel_id: UUID

        def apply(self, stream: Stream) -> None:
            stream.status = StreamStatus.LIVE
            stream.started_at = self.timestamp

    class Ended(Aggregate.Event):
        channel_id: UUID
        duration_s: int

        def apply(self, stream: Stream) -> None:
            stream.status = StreamStatus.ENDING
            stream.ended_at = self.timestamp

    class Archived(Aggregate.Event):
        channel_id: UUID
        recording_path: str | None
        vod_url: str | None

        def apply(self, stream: Stream) -> None:
            stream.status = StreamStatus.ARCHIVED
            stream.recording_path = self.recording_path
            stream.vod_url = self.vod_url

    class ViewerCountSampled(Aggregate.Event):
        channel_id: UUID
        count: int

        def apply(self, stream: Stream) -> None:
            stream.viewer_count = self.count
            stream.peak_viewers = max(stream.peak_viewers, self.count)

    def __init__(self, channel_id: UUID, owner_id: UUID, title: str) -> None:
        self.channel_id = channel_id
        self.owner_id = owner_id
        self.title = title
        self.status = StreamStatus.OFFLINE
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.recording_path: str | None = None
        self.vod_url: str | None = None
        self.viewer_count = 0
        self.peak_viewers = 0

    @property
    def is_live(self) -> bool:
        return self.status is StreamStatus.LIVE

    def _require(self, target: StreamStatus) -> None:
        if NEXT_STATUS.get(self.status) is not target:
            raise Conflict(
                f"a stream cannot go from {self.status.value} to {target.value}", field="status"
            )

    def start(self) -> None:
        self._require(StreamStatus.LIVE)
        self.trigger_event(self.Started, channel_id=self.channel_id)

    def end(self, now: datetime) -> None:
        self._require(StreamStatus.ENDING)
        started = self.started_at or now
        duration = max(0, int((now - started).total_seconds()))
        self.trigger_event(self.Ended, channel_id=self.channel_id, duration_s=duration,
                           timestamp=now)

    def archive(self, recording_path: str | None = None, vod_url: str | None = None) -> None:
        self._require(StreamStatus.ARCHIVED)
        self.trigger_event(self.Archived, channel_id=self.channel_id,
                           recording_path=recording_path, vod_url=vod_url)

    def move_to(self, target: StreamStatus, now: datetime) -> None:
        """The one transition that leads to `target`, or Conflict."""
        if target is StreamStatus.LIVE:
            self.start()
        elif target is StreamStatus.ENDING:
            self.end(now)
        elif target is StreamStatus.ARCHIVED:
            self.archive()
        else:
            raise Conflict(f"a stream cannot go back to {target.value}", field="status")

    def sample_viewers(self, count: int) -> None:
        if count < 0:
            raise Invalid("viewer count cannot be negative", field="count")
        if count != self.viewer_count and self.status is StreamStatus.LIVE:
            self.trigger_event(self.ViewerCountSampled, channel_id=self.channel_id, count=count)
