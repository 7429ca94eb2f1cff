"""`aethex events`: export filters, secrets, resuming, stats, upcast old events, the
progress bar only on a terminal, and docs/events.md kept current."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from domain.catalogue import EVENT_CLASSES, SECRET_FIELDS
from domain.channel import Channel
from domain.chat import ChatMessage
from domain.user import User
from infra.eventstore import event_docs
from infra.eventstore.event_store import EventStore
from infra.eventstore.export import (
    EventFilter,
    expand_types,
    export,
    last_exported_position,
    parse_time,
    stats,
)
from workers.replay import import_events

from .support import World
from .test_upcasting import store_v1_sent

ROOT = Path(__file__).resolve().parents[2]


def exported(store: EventStore, flt: EventFilter | None = None) -> list[dict]:
    out = io.BytesIO()
    export(store, out, flt or EventFilter(), batch_size=3)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_docs_events_md_is_current() -> None:
    assert event_docs.is_current(), (
        "docs/events.md is stale: run `aethex events docs` and commit the result")


def test_docs_cover_every_type_version_and_upcaster(tmp_path: Path) -> None:
    text = event_docs.render()
    for name, cls in EVENT_CLASSES.items():
        assert f"### `{name}` (version {getattr(cls, 'class_version', 1)})" in text
    assert "v1 → v2 (`upcast_v1_v2`)" in text
    assert "| `stream_key` | `str` | *secret* |" in text
    stale = tmp_path / "events.md"
    stale.write_text(text.replace("ChatMessage.Sent", "ChatMessage.Said"))
    assert not event_docs.is_current(stale)
    assert event_docs.write(stale) and event_docs.is_current(stale)


def test_export_never_contains_secrets(store: EventStore, world: World, owner: User,
                                       channel: Channel) -> None:
    lines = exported(store)
    assert {e["type"] for e in lines} >= {"User.Registered", "Channel.Created"}
    for e in lines:
        assert not SECRET_FIELDS & e["data"].keys()
        assert set(e) == {"position", "id", "aggregate_id", "aggregate_version", "type",
                          "schema_version", "timestamp", "channel_id", "data"}


def test_export_filters(store: EventStore, world: World, owner: User, channel: Channel) -> None:
    stream = world.live_stream(channel)
    other = world.channel(world.user("zed"), "zed-tv")
    said = [world.say(owner, stream.id, f"m{i}") for i in range(5)]
    everything = exported(store)
    assert [e["position"] for e in everything] == list(range(1, store.head() + 1))

    only_chat = exported(store, EventFilter(types=expand_types(["ChatMessage.Sent"])))
    assert [e["data"]["content"] for e in only_chat] == [f"m{i}" for i in range(5)]
    streams = exported(store, EventFilter(types=expand_types(["Stream"])))
    assert {e["type"] for e in streams} == {"Stream.Created", "Stream.Started"}
    assert exported(store, EventFilter(types=expand_types(["Stream.*"]))) == streams
    with pytest.raises(ValueError, match="unknown event type"):
        expand_types(["Stream.Exploded"])

    one = exported(store, EventFilter(aggregate=str(said[2].id)))
    assert [e["data"]["content"] for e in one] == ["m2"]
    on_other = exported(store, EventFilter(channel=str(other.id)))
    assert on_other and all(e["channel_id"] == str(other.id) for e in on_other)

    window = exported(store, EventFilter(after=3, upto=7))
    assert [e["position"] for e in window] == [4, 5, 6, 7]
    third = datetime.fromisoformat(only_chat[2]["timestamp"])
    since = exported(store, EventFilter(types=("ChatMessage.Sent",), since=third))
    assert [e["data"]["content"] for e in since] == ["m2", "m3", "m4"]
    until = exported(store, EventFilter(types=("ChatMessage.Sent",), until=third))
    assert [e["data"]["content"] for e in until] == ["m0", "m1", "m2"]
    assert exported(store, EventFilter(since=third + timedelta(days=1))) == []
    assert parse_time("2026-01-02") == parse_time("2026-01-02T00:00:00Z")


def test_stats_count_by_type_and_day(store: EventStore, world: World, owner: User,
                                     channel: Channel) -> None:
    stream = world.live_stream(channel)
    for i in range(4):
        world.say(owner, stream.id, f"m{i}")
    counts = stats(store, EventFilter(), batch_size=2)
    day = exported(store)[-1]["timestamp"][:10]
    assert counts[("ChatMessage.Sent", day)] == 4
    assert counts[("Stream.Started", day)] == 1
    assert sum(counts.values()) == store.head()


def test_resume_point_drops_a_cut_off_last_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    assert last_exported_position(path) is None
    path.write_bytes(b'{"position":1}\n{"position":5}\n{"posit')
    assert last_exported_position(path) == 5
    assert path.read_bytes() == b'{"position":1}\n{"position":5}\n'
    path.write_bytes(b'{"posi')
    assert last_exported_position(path) is None and path.read_bytes() == b""


def test_old_versions_are_exported_upcast_and_import_as_current(
        store: EventStore, world: World, owner: User, channel: Channel, tmp_path: Path) -> None:
    """A v1 ChatMessage.Sent (stored before badges existed) exports as v2 with no badges,
    and importing that export stores a v2 event that loads."""
    stream = world.live_stream(channel)
    message = ChatMessage(stream_id=stream.id, channel_id=channel.id, author_id=owner.id,
                          username="owner", display_name="Owner", badges=["x"], content="old")
    store_v1_sent(store, message)
    [line] = exported(store, EventFilter(types=("ChatMessage.Sent",)))
    assert line["schema_version"] == 2 and line["data"]["badges"] == []

    copy = EventStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                       "SQLITE_DBNAME": str(tmp_path / "copy.sqlite")})
    try:
        raw = io.BytesIO()
        export(store, raw, EventFilter())
        import_events(copy, raw.getvalue().splitlines())
        [stored] = copy.app.recorder.select_events(message.id)
        assert json.loads(stored.state)["class_version"] == 2
        loaded = copy.get(message.id, ChatMessage)
        assert loaded.badges == [] and loaded.content == "old"
        assert copy.get(channel.id, Channel).stream_key is None  # secrets are not exported
    finally:
        copy.close()


def _cli(tmp_path: Path, *args: str, stderr: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "AETHEX_DATA_DIR": str(tmp_path), "AETHEX_JWT_SECRET": "x" * 32,
           "AETHEX_LOG_LEVEL": "WARNING"}
    env.pop("AETHEX_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=stderr or subprocess.PIPE, timeout=60)


@pytest.mark.on_disk  # the CLI reads the store from its data directory
def test_no_progress_bar_in_a_pipe_and_one_on_a_terminal(
        store: EventStore, world: World, owner: User, channel: Channel, tmp_path: Path) -> None:
    piped = _cli(tmp_path, "events", "export")
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.decode().splitlines()
    assert len(lines) == store.head()
    assert [msgspec.json.decode(x)["position"] for x in lines] == list(range(1, len(lines) + 1))
    assert "━" not in piped.stderr.decode() and "ev/s" not in piped.stderr.decode()

    leader, follower = pty.openpty()  # stderr on a terminal, the data into a file
    try:
        shown = _cli(tmp_path, "events", "export", "-o", str(tmp_path / "out.jsonl"),
                     stderr=follower)
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert shown.returncode == 0
    assert b"ev/s" in drawn and b"export" in drawn
    assert len((tmp_path / "out.jsonl").read_bytes().splitlines()) == store.head()


def test_fast_read_gives_what_the_regular_read_gives(
        store: EventStore, world: World, owner: User, channel: Channel) -> None:
    """The bulk path (export, replay, rebuild) against `EventStore.read`, on every kind of
    event here, an upcast v1 one included, whole and filtered, in small pages."""
    stream = world.live_stream(channel)
    viewer = world.user("viewer")
    world.grant(channel, viewer)
    world.say(owner, stream.id, "hello")
    store_v1_sent(store, ChatMessage(stream_id=stream.id, channel_id=channel.id,
                                     author_id=viewer.id, username="viewer",
                                     display_name="viewer", badges=[], content="old"))
    head = store.head()
    everything, _ = store.read(0, 1000)
    for types in ((), ("ChatMessage.Sent",), ("Channel.Created", "User.Registered")):
        for after in range(0, head + 1, 3):
            wanted = [e for e in everything if e.position > after
                      and (not types or e.type in types)]
            assert store.read(after, 4, types=types)[0] == wanted[:4]
            # Up to a stop, page by page: each page a window of the log, in order.
            got, position = [], after
            while position < head:
                page, scanned = store.read(position, 4, types=types, stop=head)
                assert len(page) <= 4 and position < scanned <= min(head, position + 4)
                assert all(position < e.position <= scanned for e in page)
                got.extend(page)
                position = scanned
            assert got == wanted
    assert {e.type for e in everything} >= {
        "User.Registered", "Channel.Created", "Channel.ModeratorGranted", "Stream.Started",
        "ChatMessage.Sent", "UniqueName.Claimed"}


@pytest.mark.on_disk  # the CLI reads the store from its data directory
def test_cli_stats_json_and_docs_check(store: EventStore, world: World, owner: User,
                                       channel: Channel, tmp_path: Path) -> None:
    stream = world.live_stream(channel)
    world.say(owner, stream.id, "hi")
    done = _cli(tmp_path, "events", "stats", "--json", "--type", "ChatMessage")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["total"] == 1 and body["counts"][0]["type"] == "ChatMessage.Sent"
    assert _cli(tmp_path, "events", "stats", "--since", "yesterday").returncode == 2
    # The table into a pipe: plain columns, no escapes, a total line.
    piped = _cli(tmp_path, "events", "stats", "--type", "ChatMessage")
    assert piped.returncode == 0, piped.stderr
    text = piped.stdout.decode()
    assert "\x1b" not in text and all(line == line.rstrip() for line in text.splitlines())
    assert [line.split() for line in text.splitlines()] == [
        ["type", "day", "count"], ["ChatMessage.Sent", body["counts"][0]["day"], "1"],
        ["total", "1"]]

    stale = tmp_path / "events.md"
    stale.write_text("# out of date\n")
    assert _cli(tmp_path, "events", "docs", "--check", "-o", str(stale)).returncode == 2
    assert _cli(tmp_path, "events", "docs", "-o", str(stale)).returncode == 0
    assert _cli(tmp_path, "events", "docs", "--check", "-o", str(stale)).returncode == 0
    assert stale.read_text() == event_docs.render()
