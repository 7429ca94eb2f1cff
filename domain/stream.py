"""The Stream aggregate: one broadcast, OFFLINE -> LIVE -> ENDING -> ARCHIVED, never back."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import Conflict, Invalid, TooLong


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
        raise TooLong("title must be at most 140 characters", field="title")
    return value


def clean_stream_description(description: str | None) -> str:
    value = (description or "").strip()
    if len(value) > 2000:
        raise TooLong("description must be at most 2000 characters", field="description")
    return value


class Stream(Aggregate):
    """A broadcast of a channel. Every event names its channel, for routing and projections."""

    class Created(Aggregate.Created):
        """Version 2 added `description` and `category` (a stream prepared before it goes
        live has them); version 1 events are upcast with none."""

        class_version = 2

        channel_id: UUID
        owner_id: UUID
        title: str
        description: str
        category: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["description"] = ""
            state["category"] = None

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

    class Discarded(Aggregate.Event):
        """A prepared stream was ended before it ever went live: archived, never aired."""

        channel_id: UUID

        def apply(self, stream: Stream) -> None:
            stream.status = StreamStatus.ARCHIVED
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

    # ingest: what an encoder and the ingest provider did to this stream.
    class PlaybackAssigned(Aggregate.Event):
        """Where viewers watch: the ingest provider, its playback id and the HLS URL."""

        channel_id: UUID
        provider: str
        playback_id: str
        hls_url: str

        def apply(self, stream: Stream) -> None:
            stream.provider = self.provider
            stream.playback_id = self.playback_id
            stream.hls_url = self.hls_url
            if stream.ingest_state in (None, "starting"):
                stream.ingest_state = "connected"

    class IngestDisconnected(Aggregate.Event):
        """The encoder went away; the stream stays LIVE until `grace_until` (our reconnect
        grace), or, when `grace_until` is None, until the provider itself says the broadcast
        is over (Mux keeps a live stream open for its `reconnect_window`, then sends `idle`).

        Version 2 added `provider_window_s` (the provider's own window, when it keeps one)
        and lets `grace_until` be None; version 1 events always had a grace of ours."""

        class_version = 2

        channel_id: UUID
        provider: str
        grace_until: datetime | None
        provider_window_s: float | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["provider_window_s"] = None

        def apply(self, stream: Stream) -> None:
            stream.disconnected_at = self.timestamp
            stream.grace_until = self.grace_until
            stream.ingest_state = "disconnected"

    class IngestStarting(Aggregate.Event):
        """The provider has the encoder's connection but nothing viewers can play yet (Mux:
        `connected`/`recording` come 10-20 s before `active`)."""

        channel_id: UUID
        provider: str

        def apply(self, stream: Stream) -> None:
            stream.provider = self.provider
            stream.ingest_state = "starting"

    class IngestRefused(Aggregate.Event):
        """The encoder was dropped for sending far above the top rendition's bitrate
        (AETHEX_INGEST_OVER_BITRATE=refuse); the stream stays LIVE for its grace."""

        channel_id: UUID
        provider: str
        bitrate_kbps: float
        limit_kbps: float

    class ThumbnailChanged(Aggregate.Event):
        """A new picture of the stream: a frame grabbed from it, or the provider's
        thumbnail address."""

        channel_id: UUID
        thumbnail_url: str

        def apply(self, stream: Stream) -> None:
            stream.thumbnail_url = self.thumbnail_url

    class VodPublished(Aggregate.Event):
        """The whole broadcast as one video: every recording part joined in order (no
        re-encode), its duration checked against the parts', stored where VODs are served.
        `part_paths` and `part_urls`: where each part went when they were moved to the
        archive (in order; empty when they stayed where they were)."""

        channel_id: UUID
        recording_path: str
        vod_url: str
        duration_s: float
        parts: int
        part_paths: list[str]
        part_urls: list[str]

        def apply(self, stream: Stream) -> None:
            stream.recording_path = self.recording_path
            stream.vod_url = self.vod_url
            stream.vod_published = True

    class IngestReconnected(Aggregate.Event):
        """The encoder came back within the reconnect grace."""

        channel_id: UUID
        provider: str

        def apply(self, stream: Stream) -> None:
            stream.disconnected_at = None
            stream.grace_until = None
            stream.ingest_state = "connected"

    class RecordingReady(Aggregate.Event):
        """A recording (file or provider asset) exists while the stream is still LIVE."""

        channel_id: UUID
        recording_path: str | None
        vod_url: str | None

        def apply(self, stream: Stream) -> None:
            stream.recording_path = self.recording_path
            stream.vod_url = self.vod_url

    def __init__(self, channel_id: UUID, owner_id: UUID, title: str, description: str = "",
                 category: str | None = None) -> None:
        self.channel_id = channel_id
        self.owner_id = owner_id
        self.title = title
        self.description = description
        self.category = category
        self.status = StreamStatus.OFFLINE
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.recording_path: str | None = None
        self.vod_url: str | None = None
        self.viewer_count = 0
        self.peak_viewers = 0
        self.provider: str | None = None  # ingest
        self.playback_id: str | None = None
        self.hls_url: str | None = None
        self.disconnected_at: datetime | None = None
        self.grace_until: datetime | None = None
        self.ingest_state: str | None = None  # starting, connected, disconnected
        self.thumbnail_url: str | None = None
        self.vod_published = False

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

    def end_by_owner(self, now: datetime) -> None:
        """Ends a live stream on its owner's word. When its encoder has already gone (a
        reconnect grace is running) and its recording is known, no other part can come:
        archived at once, as the grace's end would."""
        self.end(now)
        if self.grace_until is not None and (self.recording_path is not None
                                             or self.vod_url is not None):
            self.archive(self.recording_path, self.vod_url)

    def discard(self, now: datetime) -> None:
        """Ends a stream that was prepared and never went live (OFFLINE -> ARCHIVED)."""
        if self.status is not StreamStatus.OFFLINE:
            raise Conflict(f"only a stream that has not gone live can be discarded; this one "
                           f"is {self.status.value}", field="status")
        self.trigger_event(self.Discarded, channel_id=self.channel_id, timestamp=now)

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
            self.archive(self.recording_path, self.vod_url)  # a recording known so far
        else:
            raise Conflict(f"a stream cannot go back to {target.value}", field="status")

    def sample_viewers(self, count: int) -> bool:
        """Records the count if the stream is live and it changed; says whether it did."""
        if count < 0:
            raise Invalid("viewer count cannot be negative", field="count")
        if count == self.viewer_count or self.status is not StreamStatus.LIVE:
            return False
        self.trigger_event(self.ViewerCountSampled, channel_id=self.channel_id, count=count)
        return True

    # -- ingest ----------------------------------------------------------

    def assign_playback(self, provider: str, playback_id: str, hls_url: str) -> bool:
        """Names where viewers watch; False when it already was exactly that."""
        if self.status not in (StreamStatus.OFFLINE, StreamStatus.LIVE):
            raise Conflict("an ended stream gets no new playback", field="status")
        if (self.provider, self.playback_id, self.hls_url) == (provider, playback_id, hls_url):
            return False
        self.trigger_event(self.PlaybackAssigned, channel_id=self.channel_id, provider=provider,
                           playback_id=playback_id, hls_url=hls_url)
        return True

    def ingest_disconnect(self, provider: str, now: datetime, grace_s: float | None,
                          provider_window_s: float | None = None) -> bool:
        """The encoder went away: the stream stays LIVE until `grace_s` passes without a
        reconnect, or (`grace_s` None) until the provider ends it. False when there is
        nothing to record (not live, already disconnected)."""
        if self.status is not StreamStatus.LIVE or self.disconnected_at is not None:
            return False
        until = None if grace_s is None else now + timedelta(seconds=grace_s)
        self.trigger_event(self.IngestDisconnected, channel_id=self.channel_id,
                           provider=provider, grace_until=until,
                           provider_window_s=provider_window_s, timestamp=now)
        return True

    def ingest_starting(self, provider: str) -> bool:
        """The provider has the encoder but nothing is playable yet. A stream that is
        already playable is not set back (providers' webhooks arrive in any order); a
        disconnected one is reconnected instead. False when nothing changed."""
        if self.status is not StreamStatus.LIVE:
            raise Conflict("the stream has ended; start a new one", field="status")
        if self.disconnected_at is not None:
            return self.ingest_reconnect(provider)
        if self.hls_url is not None or self.ingest_state == "starting":
            return False
        self.trigger_event(self.IngestStarting, channel_id=self.channel_id, provider=provider)
        return True

    def refuse_ingest(self, provider: str, bitrate_kbps: float, limit_kbps: float) -> None:
        """Records that the encoder was dropped for its bitrate."""
        if self.status is not StreamStatus.LIVE:
            raise Conflict("the stream is not live", field="status")
        self.trigger_event(self.IngestRefused, channel_id=self.channel_id, provider=provider,
                           bitrate_kbps=round(bitrate_kbps, 1), limit_kbps=limit_kbps)

    def change_thumbnail(self, thumbnail_url: str) -> bool:
        """A new picture of the stream; False when it is the one it has."""
        if not thumbnail_url or thumbnail_url == self.thumbnail_url:
            return False
        if self.status is StreamStatus.OFFLINE:
            raise Conflict("a stream that has not gone live has no picture", field="status")
        self.trigger_event(self.ThumbnailChanged, channel_id=self.channel_id,
                           thumbnail_url=thumbnail_url)
        return True

    def publish_vod(self, recording_path: str, vod_url: str, duration_s: float,
                    parts: int, part_paths: list[str] | None = None,
                    part_urls: list[str] | None = None) -> None:
        """The whole broadcast joined into one video: only for an ARCHIVED stream, once."""
        if self.status is not StreamStatus.ARCHIVED:
            raise Conflict("only an archived stream gets its whole VOD", field="status")
        if self.vod_published:
            raise Conflict("the stream's VOD is already published", field="status")
        self.trigger_event(self.VodPublished, channel_id=self.channel_id,
                           recording_path=recording_path, vod_url=vod_url,
                           duration_s=duration_s, parts=parts,
                           part_paths=list(part_paths or []), part_urls=list(part_urls or []))

    def ingest_reconnect(self, provider: str) -> bool:
        """The encoder came back within the grace; False when it was not disconnected."""
        if self.status is not StreamStatus.LIVE:
            raise Conflict("the stream has ended; start a new one", field="status")
        if self.disconnected_at is None:
            return False
        self.trigger_event(self.IngestReconnected, channel_id=self.channel_id, provider=provider)
        return True

    def grace_expired(self, now: datetime) -> bool:
        """LIVE, disconnected, and the reconnect grace is over."""
        return (self.status is StreamStatus.LIVE and self.grace_until is not None
                and now >= self.grace_until)

    def recording_ready(self, recording_path: str | None, vod_url: str | None) -> None:
        """A recording or provider asset exists: archives at once when ENDING; while still
        LIVE (within a reconnect grace) it is kept and the end archives with it."""
        if self.status is StreamStatus.ENDING:
            self.archive(recording_path, vod_url)
        elif self.status is StreamStatus.LIVE:
            self.trigger_event(self.RecordingReady, channel_id=self.channel_id,
                               recording_path=recording_path, vod_url=vod_url)
        else:
            raise Conflict(f"a {self.status.value} stream cannot take a recording",
                           field="status")

    def end_after_grace(self, now: datetime) -> None:
        """Ends a stream whose reconnect grace ran out, archiving it at once when its
        recording is already known."""
        if not self.grace_expired(now):
            raise Conflict("the encoder reconnected or the grace is not over", field="status")
        self.end(now)
        if self.recording_path is not None or self.vod_url is not None:
            self.archive(self.recording_path, self.vod_url)
