"""The VOD publisher: once an nginx-rtmp stream is archived, joins its recording parts (one
per encoder connection) into one video, in order and without re-encoding, checks that the
result lasts as long as the parts together, stores it (the archive bucket, multipart, or
beside the recordings), grabs its thumbnail, and makes it the stream's VOD (PublishVod).

What is due is read from the stream_status read model on every pass, so it survives
restarts; the aggregate publishes a VOD once, so two nodes doing the same stream conflict
harmlessly (the loser's upload is the same object, overwritten).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import tempfile
import time
from pathlib import Path
from uuid import UUID

import structlog

from commands.actors import SystemActor
from commands.ports import Store
from commands.publish_vod import PublishVod, publish_vod
from domain.errors import Conflict, DomainError
from infra.media import ffmpeg
from infra.readstore.database import Database
from infra.storage.objects import Storage
from infra.storage.recordings import DiskRecordings, RecordingStore
from projections.stream_ingest import vods_to_publish

log = structlog.get_logger(__name__)
ACTOR = SystemActor("vod-publisher")
PROVIDER = "nginx-rtmp"  # the providers make their own VODs


def allowed_gap_s(parts: int, total_s: float) -> float:
    """How far the joined video's duration may be from the parts' sum: each join may drop
    or keep a fraction of a frame and an audio packet, and containers round."""
    return 0.25 * parts + 0.01 * total_s


def store_image(images: Storage, jpeg: bytes) -> str:
    """A grabbed frame, kept as uploaded images are: content-addressed."""
    key = f"images/{hashlib.sha256(jpeg).hexdigest()}.jpg"
    return images.put(key, jpeg, "image/jpeg")


class VodPublisher:
    name = "vod_publisher"

    def __init__(self, store: Store, db: Database, recordings: RecordingStore,
                 images: Storage, *, work_dir: Path, poll_s: float = 1.0,
                 retry_s: float = 60.0) -> None:
        self.store = store
        self.db = db
        self.recordings = recordings
        self.images = images
        self.work_dir = work_dir
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.published = 0
        self.not_before: dict[str, float] = {}  # streams whose last attempt failed
        self.failures: dict[str, int] = {}

    def step(self) -> int:
        done = 0
        now = time.monotonic()
        for item in vods_to_publish(self.db, PROVIDER):
            sid = item["stream_id"]
            if self.not_before.get(sid, 0.0) > now:
                continue
            try:
                done += self.publish(UUID(sid), [Path(p) for p in item["parts"]])
            except (ffmpeg.MediaError, OSError, DomainError) as e:
                # A part missing on this host, a file ffmpeg cannot read: tried again later
                # (another node may have the files), less and less often, up to hourly.
                failures = self.failures[sid] = self.failures.get(sid, 0) + 1
                self.not_before[sid] = now + min(self.retry_s * 2 ** (failures - 1), 3600.0)
                log.warning("vod.failed", stream_id=sid, attempts=failures,
                            error=str(e)[:300])
        return done

    def publish(self, stream_id: UUID, parts: list[Path]) -> int:
        missing = [p.name for p in parts if not p.is_file()]
        if missing:
            raise ffmpeg.MediaError(f"recording parts not on this host: {', '.join(missing)}")
        durations = [ffmpeg.duration_s(str(p)) for p in parts]
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir, prefix="vod-") as tmp:
            joined = Path(tmp) / f"{stream_id}.mp4"
            ffmpeg.concat(parts, joined)
            total, expected = ffmpeg.duration_s(str(joined)), sum(durations)
            if abs(total - expected) > allowed_gap_s(len(parts), expected):
                raise ffmpeg.MediaError(f"the joined VOD lasts {total:.2f} s, its parts "
                                        f"{expected:.2f} s")
            frame = ffmpeg.grab_frame(str(joined), at_s=min(1.0, total / 2))
            thumbnail = store_image(self.images, frame)
            part_paths: list[str] = []
            part_urls: list[str] = []
            if self.recordings.remote:
                for part in parts:
                    kept = self.recordings.keep(part, f"{stream_id}/{part.name}",
                                                "video/x-flv")
                    part_paths.append(kept.path)
                    part_urls.append(kept.url)
                vod = self.recordings.keep(joined, f"{stream_id}/{joined.name}", "video/mp4")
            else:
                assert isinstance(self.recordings, DiskRecordings)
                placed = self.recordings.place(joined, beside=parts[0])
                vod = self.recordings.keep(placed, joined.name, "video/mp4")
        try:
            publish_vod(PublishVod(
                actor_id=ACTOR, stream_id=stream_id, recording_path=vod.path, vod_url=vod.url,
                duration_s=round(total, 3), parts=len(parts), part_paths=part_paths,
                part_urls=part_urls, thumbnail_url=thumbnail), self.store)
        except Conflict as e:  # published by another node meanwhile
            log.info("vod.skipped", stream_id=str(stream_id), reason=e.message)
            return 0
        if self.recordings.remote:  # archived: the ingest host's disk is not where it lives
            for part in parts:
                part.unlink(missing_ok=True)
        self.published += 1
        log.info("vod.published", stream_id=str(stream_id), parts=len(parts),
                 duration_s=round(total, 3), remote=self.recordings.remote)
        return 1

    async def run(self, stopping: asyncio.Event) -> None:
        """Publishes due VODs until `stopping` is set; a failed pass raises, and the
        supervisor runs this again after a backoff."""
        missing = ffmpeg.available()
        if missing:
            log.warning("vod.unavailable", missing=missing)
            await stopping.wait()
            return
        log.info("vod_publisher.started")
        while not stopping.is_set():
            await asyncio.to_thread(self.step)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.poll_s)
