"""The Stream aggregate: OFFLINE -> LIVE -> ENDING -> ARCHIVED, never back, and viewers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import Conflict, Invalid
from domain.stream import NEXT_STATUS, Stream, StreamStatus, clean_title

from .support import event_names

S = StreamStatus
STEPS_TO = {
    S.OFFLINE: [],
    S.LIVE: ["start"],
    S.ENDING: ["start", "end"],
    S.ARCHIVED: ["start", "end", "archive"],
}


def do(stream: Stream, step: str) -> None:
    if step == "end":
        stream.end((stream.started_at or stream.modified_on) + timedelta(seconds=30))
    else:
        getattr(stream, step)()


def given(*steps: str) -> Stream:
    """A stream after `steps`, with its events already collected (the 'given' part)."""
    stream = Stream(channel_id=uuid4(), owner_id=uuid4(), title="t")
    for step in steps:
        do(stream, step)
    stream.collect_events()
    return stream


def given_status(status: StreamStatus) -> Stream:
    stream = given(*STEPS_TO[status])
    assert stream.status is status
    return stream


def test_a_new_stream_is_offline_and_records_its_channel() -> None:
    channel_id, owner_id = uuid4(), uuid4()
    stream = Stream(channel_id=channel_id, owner_id=owner_id, title="Hello")
    [created] = stream.collect_events()
    assert type(created).__qualname__ == "Stream.Created"
    assert created.channel_id == channel_id and created.owner_id == owner_id  # type: ignore[attr-defined]
    assert stream.status is S.OFFLINE
    assert not stream.is_live
    assert (stream.viewer_count, stream.peak_viewers) == (0, 0)
    assert stream.started_at is None and stream.ended_at is None


# given steps / when step / then events (or the refusal)
TABLE: list[tuple[list[str], str, list[str] | type[Exception]]] = [
    ([], "start", ["Stream.Started"]),
    ([], "end", Conflict),
    ([], "archive", Conflict),
    (["start"], "start", Conflict),
    (["start"], "end", ["Stream.Ended"]),
    (["start"], "archive", Conflict),
    (["start", "end"], "start", Conflict),
    (["start", "end"], "end", Conflict),
    (["start", "end"], "archive", ["Stream.Archived"]),
    (["start", "end", "archive"], "start", Conflict),
    (["start", "end", "archive"], "end", Conflict),
    (["start", "end", "archive"], "archive", Conflict),
]


@pytest.mark.parametrize(("given_steps", "when", "then"), TABLE)
def test_transitions_table(
    given_steps: list[str], when: str, then: list[str] | type[Exception]
) -> None:
    stream = given(*given_steps)
    before = stream.status
    if isinstance(then, list):
        do(stream, when)
        events = stream.collect_events()
        assert event_names(events) == then
        assert all(e.channel_id == stream.channel_id for e in events)  # type: ignore[attr-defined]
        assert NEXT_STATUS[before] is stream.status
    else:
        with pytest.raises(then) as info:
            do(stream, when)
        assert info.value.field == "status"  # type: ignore[attr-defined]
        assert stream.status is before
        assert stream.collect_events() == []


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_move_to_allows_exactly_the_next_status(source: S, target: S) -> None:
    stream = given_status(source)
    now = (stream.started_at or stream.modified_on) + timedelta(seconds=5)
    legal = {(S.OFFLINE, S.LIVE), (S.LIVE, S.ENDING), (S.ENDING, S.ARCHIVED)}
    if (source, target) in legal:
        stream.move_to(target, now)
        assert stream.status is target
        assert len(stream.collect_events()) == 1
    else:
        with pytest.raises(Conflict) as info:
            stream.move_to(target, now)
        assert info.value.field == "status"
        assert target.value in info.value.message
        assert stream.status is source
        assert stream.collect_events() == []


def test_started_sets_started_at_to_the_event_time() -> None:
    stream = given()
    stream.start()
    [started] = stream.collect_events()
    assert stream.started_at == started.timestamp
    assert stream.is_live


def test_end_computes_whole_seconds_since_start_and_uses_now_as_the_time() -> None:
    stream = given("start")
    assert stream.started_at is not None
    now = stream.started_at + timedelta(seconds=90, milliseconds=700)
    stream.end(now)
    [ended] = stream.collect_events()
    assert ended.duration_s == 90  # type: ignore[attr-defined]
    assert ended.timestamp == now
    assert stream.ended_at == now
    assert stream.status is S.ENDING


def test_end_with_a_clock_behind_the_start_gives_zero_not_negative_duration() -> None:
    stream = given("start")
    assert stream.started_at is not None
    stream.end(stream.started_at - timedelta(seconds=5))
    [ended] = stream.collect_events()
    assert ended.duration_s == 0  # type: ignore[attr-defined]


def test_move_to_ending_computes_the_duration_too() -> None:
    stream = given("start")
    assert stream.started_at is not None
    stream.move_to(S.ENDING, stream.started_at + timedelta(minutes=2))
    [ended] = stream.collect_events()
    assert ended.duration_s == 120  # type: ignore[attr-defined]


def test_archive_records_the_recording_and_vod() -> None:
    stream = given("start", "end")
    stream.archive(recording_path="rec/1.flv", vod_url="https://vod.example/1")
    [archived] = stream.collect_events()
    assert archived.recording_path == "rec/1.flv"  # type: ignore[attr-defined]
    assert (stream.recording_path, stream.vod_url) == ("rec/1.flv", "https://vod.example/1")
    assert stream.status is S.ARCHIVED


def test_move_to_archived_has_no_recording() -> None:
    stream = given("start", "end")
    stream.move_to(S.ARCHIVED, stream.modified_on)
    assert stream.status is S.ARCHIVED
    assert stream.recording_path is None and stream.vod_url is None


# -- viewers ------------------------------------------------------------------------------

# given samples on a LIVE stream / when sample / then (events, count, peak)
VIEWER_TABLE: list[tuple[list[int], int, int, int, int]] = [
    ([], 0, 0, 0, 0),  # unchanged from the initial 0: no event
    ([], 7, 1, 7, 7),
    ([7], 7, 0, 7, 7),  # unchanged: no event
    ([7], 3, 1, 3, 7),  # peak is a max, not the last count
    ([7, 3], 12, 1, 12, 12),
    ([7, 12], 0, 1, 0, 12),
]


@pytest.mark.parametrize(("samples", "when", "n_events", "count", "peak"), VIEWER_TABLE)
def test_viewer_sampling_table(
    samples: list[int], when: int, n_events: int, count: int, peak: int
) -> None:
    stream = given("start")
    for n in samples:
        stream.sample_viewers(n)
    stream.collect_events()
    stream.sample_viewers(when)
    events = stream.collect_events()
    assert event_names(events) == ["Stream.ViewerCountSampled"] * n_events
    assert (stream.viewer_count, stream.peak_viewers) == (count, peak)


@pytest.mark.parametrize("status", [S.OFFLINE, S.ENDING, S.ARCHIVED])
def test_viewer_samples_are_ignored_unless_live(status: S) -> None:
    stream = given_status(status)
    stream.sample_viewers(42)
    assert stream.collect_events() == []
    assert (stream.viewer_count, stream.peak_viewers) == (0, 0)


@pytest.mark.parametrize("status", list(S))
def test_negative_viewer_count_is_invalid(status: S) -> None:
    stream = given_status(status)
    with pytest.raises(Invalid) as info:
        stream.sample_viewers(-1)
    assert info.value.field == "count"
    assert stream.collect_events() == []


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (None, "Untitled stream"),
        ("", "Untitled stream"),
        ("   ", "Untitled stream"),
        ("  Speedrun  ", "Speedrun"),
        ("x" * 140, "x" * 140),
    ],
)
def test_clean_title(title: str | None, expected: str) -> None:
    assert clean_title(title) == expected


def test_title_over_140_characters_is_invalid() -> None:
    with pytest.raises(Invalid) as info:
        clean_title("x" * 141)
    assert info.value.field == "title"


def test_the_owner_ending_a_stream_whose_encoder_left_archives_it_with_its_recording() -> None:
    stream = given("start")
    now = datetime.now(UTC)
    stream.ingest_disconnect("nginx-rtmp", now, grace_s=30)
    stream.recording_ready("rec/1.flv", None)
    stream.collect_events()
    stream.end_by_owner(now + timedelta(seconds=2))
    assert [type(e).__name__ for e in stream.collect_events()] == ["Ended", "Archived"]
    assert stream.status is S.ARCHIVED and stream.recording_path == "rec/1.flv"


def test_the_owner_ending_a_stream_still_publishing_waits_for_its_recording() -> None:
    # Connected (no grace running): another part may still come, so only ENDING.
    stream = given("start")
    stream.recording_ready("rec/part1.flv", None)
    stream.collect_events()
    stream.end_by_owner(datetime.now(UTC))
    assert [type(e).__name__ for e in stream.collect_events()] == ["Ended"]
    assert stream.status is S.ENDING
