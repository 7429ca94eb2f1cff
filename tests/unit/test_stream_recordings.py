"""A stream whose encoder reconnected has several recording files: the archive keeps them
all, in order, once each."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from infra.eventstore.envelope import EventEnvelope
from infra.readstore.database import SqliteDatabase
from projections.base import migrate
from projections.stream_ingest import recordings
from projections.stream_status import StreamStatusProjection


def envelope(position: int, stream_id: str, channel_id: str, type_: str,
             **data: object) -> EventEnvelope:
    return EventEnvelope(position=position, id=str(uuid4()), aggregate_id=stream_id,
                         aggregate_version=position, type=type_, schema_version=1,
                         timestamp=f"2026-11-25T12:00:{position:02d}+00:00",
                         channel_id=channel_id, data={"channel_id": channel_id, **data})


def test_every_recording_part_is_kept_once(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "read.sqlite")
    projection = StreamStatusProjection()
    migrate(db, [projection])
    sid, cid = str(uuid4()), str(uuid4())
    events = [
        envelope(1, sid, cid, "Stream.Created", owner_id=str(uuid4()), title="t"),
        envelope(2, sid, cid, "Stream.Started"),
        envelope(3, sid, cid, "Stream.RecordingReady", recording_path="/rec/a.flv",
                 vod_url=None),
        envelope(4, sid, cid, "Stream.RecordingReady", recording_path="/rec/b.flv",
                 vod_url=None),
        envelope(5, sid, cid, "Stream.Ended", duration_s=9),
        # Archived after the grace with the last part it already had.
        envelope(6, sid, cid, "Stream.Archived", recording_path="/rec/b.flv", vod_url=None),
    ]
    with db.transaction() as tx:
        projection.apply(tx, events)
    with db.transaction() as tx:  # a redelivered batch changes nothing
        projection.apply(tx, events[2:])
    assert [r["recordingPath"] for r in recordings(db, sid)] == ["/rec/a.flv", "/rec/b.flv"]
    other = str(uuid4())
    with db.transaction() as tx:
        projection.apply(tx, [
            envelope(7, other, cid, "Stream.Created", owner_id=str(uuid4()), title="t"),
            envelope(8, other, cid, "Stream.Archived", recording_path=None,
                     vod_url="https://vod/x.m3u8"),
        ])
    assert [r["vodUrl"] for r in recordings(db, other)] == ["https://vod/x.m3u8"]
    db.close()
