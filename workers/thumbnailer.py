"""The thumbnailer: every `interval_s` grabs a frame of each live nginx-rtmp stream from its
playlist (ffmpeg), stores it as uploaded images are stored, and makes it the stream's
thumbnail. The providers (Mux, Cloudflare) have their own thumbnail URLs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from uuid import UUID

import structlog

from commands.actors import SystemActor
from commands.change_thumbnail import ChangeThumbnail, change_thumbnail
from commands.ports import Store
from domain.errors import DomainError
from infra.media import ffmpeg
from infra.readstore.database import Database
from infra.storage.objects import Storage
from projections.stream_ingest import live_streams_of
from workers.vod_publisher import store_image

log = structlog.get_logger(__name__)
ACTOR = SystemActor("thumbnailer")
PROVIDER = "nginx-rtmp"


class Thumbnailer:
    name = "thumbnailer"

    def __init__(self, store: Store, db: Database, images: Storage, *, interval_s: float,
                 source_template: str | None = None, poll_s: float = 1.0) -> None:
        self.store = store
        self.db = db
        self.images = images
        self.interval_s = interval_s
        # Where this worker reads a stream's playlist when the public URL does not reach
        # the ingest from here (`{playback_id}`), else the stream's hlsUrl.
        self.source_template = source_template
        self.poll_s = min(poll_s, interval_s)
        self.last: dict[str, float] = {}
        self.captured = 0

    def source_of(self, row: dict[str, str]) -> str:
        if self.source_template:
            return self.source_template.replace("{playback_id}", row["id"])
        return row["hls_url"]

    def step(self) -> int:
        now = time.monotonic()
        live = live_streams_of(self.db, PROVIDER)
        self.last = {sid: t for sid, t in self.last.items() if sid in {r["id"] for r in live}}
        done = 0
        for row in live:
            if now - self.last.get(row["id"], -self.interval_s) < self.interval_s:
                continue
            try:
                frame = ffmpeg.grab_frame(self.source_of(row), timeout_s=20)
            except ffmpeg.MediaError as e:
                # No segment yet (or no nginx behind the URL): tried again a little later,
                # not on every pass.
                self.last[row["id"]] = now - self.interval_s + min(self.interval_s, 2.0)
                log.debug("thumbnail.not_yet", stream_id=row["id"], error=str(e)[:200])
                continue
            url = store_image(self.images, frame)
            try:
                position = change_thumbnail(ChangeThumbnail(
                    actor_id=ACTOR, stream_id=UUID(row["id"]), thumbnail_url=url), self.store)
            except DomainError as e:
                log.info("thumbnail.skipped", stream_id=row["id"], reason=e.message)
                continue
            self.last[row["id"]] = now
            done += position > 0
        self.captured += done
        return done

    async def run(self, stopping: asyncio.Event) -> None:
        """Grabs thumbnails until `stopping` is set; a failed pass raises, and the
        supervisor runs this again after a backoff."""
        missing = ffmpeg.available()
        if missing:
            log.warning("thumbnailer.unavailable", missing=missing)
            await stopping.wait()
            return
        log.info("thumbnailer.started", interval_s=self.interval_s)
        while not stopping.is_set():
            await asyncio.to_thread(self.step)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.poll_s)
