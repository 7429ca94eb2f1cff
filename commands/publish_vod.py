"""PublishVod: an archived stream's recording parts were joined into one video and stored;
it becomes the stream's VOD, with its picture, in one transaction."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.actors import SystemActor
from commands.ports import Store
from domain.stream import Stream


class PublishVod(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: SystemActor
    stream_id: UUID
    recording_path: str
    vod_url: str
    duration_s: float
    parts: int
    part_paths: list[str] = []
    part_urls: list[str] = []
    thumbnail_url: str | None = None


def publish_vod(cmd: PublishVod, store: Store) -> int:
    """The position of the VOD's events; Conflict when the stream is not archived or its
    VOD is already published (another node did it)."""
    stream = store.get(cmd.stream_id, Stream)
    stream.publish_vod(cmd.recording_path, cmd.vod_url, cmd.duration_s, cmd.parts,
                       cmd.part_paths, cmd.part_urls)
    if cmd.thumbnail_url:
        stream.change_thumbnail(cmd.thumbnail_url)
    return store.save(stream)
