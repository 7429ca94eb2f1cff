"""The discovery read models from real events: the directory's order and filters, the
categories' totals kept right through category changes, privacy changes and streams
ending while live, and the same rows whether the log is applied at once or event by event
(as a rebuild and a live projector batch it differently)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from commands.create_stream import CreateStream, create_stream
from commands.end_stream import EndStream, end_stream
from commands.follow import FollowTarget, follow
from commands.sample_viewer_count import SampleViewerCount, sample_viewer_count
from commands.unfollow import UnfollowTarget, unfollow
from commands.update_channel import UpdateChannel, update_channel
from domain.errors import Invalid
from infra.readstore.database import SqliteDatabase
from projections.base import Projection, migrate
from projections.categories import Categories, list_categories
from projections.channel_directory import ChannelDirectory, list_channels
from projections.keyset import decode_cursor, encode_cursor
from projections.registry import all_projections
from projections.stream_directory import StreamDirectory, list_streams

from .support import World

DISCOVERY = (ChannelDirectory(), StreamDirectory(), Categories())


def build(world: World, path: Path, *, one_by_one: bool) -> SqliteDatabase:
    db = SqliteDatabase(path)
    projections = all_projections()
    migrate(db, projections)
    log = world.log()
    batches = [[e] for e in log] if one_by_one else [log]
    for batch in batches:
        with db.transaction() as tx:
            for projection in projections:
                projection.apply(tx, [e for e in batch if e.type in projection.types])
    return db


def rows(db: SqliteDatabase, projections: tuple[Projection, ...]) -> dict[str, Any]:
    return {t: sorted(tuple(sorted(r.items())) for r in db.fetch_all(f"SELECT * FROM {t}"))
            for p in projections for t in p.tables}


def scene(world: World) -> dict[str, Any]:
    owners = [world.user(f"owner{i}") for i in range(4)]
    fans = [world.user(f"fan{i}") for i in range(3)]
    chans = [world.channel(o) for o in owners]
    for chan, category in zip(chans, ("games", "games", "music", "art"), strict=True):
        update_channel(UpdateChannel(actor_id=chan.owner_id, channel_id=chan.id,
                                     category=category, tags=["Chill"]), world.store)
    for fan in fans:
        follow(FollowTarget(actor_id=fan.id, target_kind="channel", target_id=chans[2].id),
               world.store)
    follow(FollowTarget(actor_id=fans[0].id, target_kind="channel", target_id=chans[3].id),
           world.store)
    unfollow(UnfollowTarget(actor_id=fans[2].id, target_kind="channel",
                            target_id=chans[2].id), world.store)
    follow(FollowTarget(actor_id=fans[0].id, target_kind="user", target_id=owners[0].id),
           world.store)
    streams = [world.live_stream(c) for c in chans[:3]]
    for stream, count in zip(streams, (5, 9, 2), strict=True):
        sample_viewer_count(SampleViewerCount(stream_id=stream.id, count=count), world.store)
    # While live: channel 1 moves to music, channel 2 goes private, stream 0 ends.
    update_channel(UpdateChannel(actor_id=chans[1].owner_id, channel_id=chans[1].id,
                                 category="music"), world.store)
    update_channel(UpdateChannel(actor_id=chans[2].owner_id, channel_id=chans[2].id,
                                 is_public=False), world.store)
    end_stream(EndStream(actor_id=chans[0].owner_id, stream_id=streams[0].id), world.store)
    # Channel 3 (art) prepares a stream under music and goes live with it.
    create_stream(CreateStream(actor_id=chans[3].owner_id, channel_id=chans[3].id,
                               category="Music"), world.store)
    streams.append(world.live_stream(chans[3]))
    return {"channels": chans, "streams": streams}


def test_order_filters_and_totals(world: World, tmp_path: Path) -> None:
    made = scene(world)
    chans, streams = made["channels"], made["streams"]
    db = build(world, tmp_path / "read.sqlite", one_by_one=False)
    try:
        ids = [c["id"] for c in list_channels(db, limit=100)[0]]
        # Live by viewers (channels 1, 3), then by followers (0: none); 2 is private.
        assert ids == [str(chans[1].id), str(chans[3].id), str(chans[0].id)]
        assert [c["id"] for c in list_channels(db, live=True)[0]] == [str(chans[1].id),
                                                                     str(chans[3].id)]
        assert [c["id"] for c in list_channels(db, live=False)[0]] == [str(chans[0].id)]
        assert [c["id"] for c in list_channels(db, category="games")[0]] == [str(chans[0].id)]
        assert len(list_channels(db, tag=" chill ")[0]) == 3
        assert [c["id"] for c in list_channels(db, q="OWNER3")[0]] == [str(chans[3].id)]
        assert [c["id"] for c in list_channels(db, category=" Music ")[0]] == [str(chans[1].id)]
        live = list_streams(db, status="LIVE")[0]
        # Stream 2's channel is private.
        assert [s["id"] for s in live] == [str(streams[1].id), str(streams[3].id)]
        assert [s["id"] for s in list_streams(db, status="ENDING")[0]] == [str(streams[0].id)]
        totals = {c["name"]: c for c in list_categories(db)[0]}
        # A live stream counts under its own category: channel 1's went live under games
        # before the channel moved to music; channel 3's was prepared under music.
        assert totals == {
            "games": {"name": "games", "channelCount": 1, "liveCount": 1, "viewerCount": 9},
            "music": {"name": "music", "channelCount": 1, "liveCount": 1, "viewerCount": 0},
            "art": {"name": "art", "channelCount": 1, "liveCount": 0, "viewerCount": 0},
        }
        assert [c["name"] for c in list_categories(db)[0]] == ["games", "music", "art"]
    finally:
        db.close()


def test_batched_or_one_by_one_gives_the_same_rows(world: World, tmp_path: Path) -> None:
    scene(world)
    at_once = build(world, tmp_path / "a.sqlite", one_by_one=False)
    singly = build(world, tmp_path / "b.sqlite", one_by_one=True)
    try:
        assert rows(at_once, DISCOVERY) == rows(singly, DISCOVERY)
    finally:
        at_once.close()
        singly.close()


def test_cursors_round_trip_and_refuse_what_they_did_not_make() -> None:
    assert decode_cursor(encode_cursor((1, 5, 0, "abc")), (int, int, int, str)) == (
        1, 5, 0, "abc")
    for bad in ("", "!!", encode_cursor((1, 2, 3)), encode_cursor(("1", 2)),
                encode_cursor((True, 2)), "e30"):
        with pytest.raises(Invalid) as refused:
            decode_cursor(bad, (int, int))
        assert refused.value.field == "cursor"
