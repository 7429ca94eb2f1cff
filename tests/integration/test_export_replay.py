"""Export, import and time travel, on both modes: an exported log imported into an empty
store gives the same read models; `replay --until` builds the past elsewhere and leaves
the live read models alone."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from commands.delete_message import DeleteMessage, delete_message
from commands.end_stream import EndStream, end_stream
from commands.update_channel import UpdateChannel, update_channel
from entrypoints.bootstrap import Services
from entrypoints.cli import main
from infra.eventstore.export import EventFilter, export
from infra.readstore.database import Database
from infra.settings import Settings
from projections import tracking
from projections.base import Projection
from projections.registry import all_projections
from tests.harness import (
    drop_namespace,
    embedded_settings,
    new_namespace,
    production_settings,
    require_services,
)
from tests.unit.support import FakeHasher, World
from workers.replay import ReplayError, import_events, open_target, project_into


@pytest.fixture(params=["embedded", "production"])
def settings_pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[
        tuple[Settings, Settings]]:
    """Two independent deployments of one mode: a source and an empty target."""
    if request.param == "embedded":
        yield embedded_settings(tmp_path / "a"), embedded_settings(tmp_path / "b")
        return
    require_services()
    a, b = new_namespace(), new_namespace()
    try:
        yield production_settings(tmp_path / "a", a), production_settings(tmp_path / "b", b)
    finally:
        drop_namespace(a)
        drop_namespace(b)


def seed_world(services: Services, messages: int = 40) -> World:
    """Users, channels, a moderator, a stream that goes live and ends, chat with a delete:
    every projection gets rows."""
    world = World(store=services.store, hasher=FakeHasher())
    owner, viewer = world.user("alice"), world.user("bobby")
    channel = world.channel(owner, "alice-tv")
    world.grant(channel, viewer)
    update_channel(UpdateChannel(actor_id=owner.id, channel_id=channel.id,
                                 description="all day", tags=["music", "live"]), services.store)
    stream = world.live_stream(channel, "first")
    said = [world.say(viewer if i % 3 else owner, stream.id, f"hello {i}")
            for i in range(messages)]
    delete_message(DeleteMessage(actor_id=owner.id, message_id=said[1].id), services.store)
    end_stream(EndStream(actor_id=owner.id, stream_id=stream.id), services.store)
    world.live_stream(channel, "second")
    return world


def dump(db: Database, projections: list[Projection]) -> dict[str, list[dict]]:
    """Every row of every read-model table, in a stable order."""
    out = {}
    for p in projections:
        for table in p.tables:
            rows = db.fetch_all(f"SELECT * FROM {table}")
            out[table] = sorted(rows, key=lambda r: sorted((k, str(v)) for k, v in r.items()))
    return out


def test_export_then_import_into_an_empty_store_gives_the_same_read_models(
        settings_pair: tuple[Settings, Settings], tmp_path: Path) -> None:
    source_settings, target_settings = settings_pair
    projections = all_projections()
    source, target = Services(source_settings), Services(target_settings)
    try:
        seed_world(source)
        head = source.store.head()
        # A filtered page with a stop is the slice of its window of the log, on this
        # mode's store too.
        everything, _ = source.store.read(0, 10_000)
        chat = ("ChatMessage.Sent", "ChatMessage.Deleted")
        page, scanned = source.store.read(5, 7, types=chat, stop=head - 3)
        assert scanned == min(12, head - 3)
        assert page == [e for e in everything if 5 < e.position <= scanned and e.type in chat]
        exported = io.BytesIO()
        written, last = export(source.store, exported, EventFilter(), batch_size=7)
        assert written == head and last == head  # no gaps in this log: every position

        assert target.store.head() == 0
        count, imported_head = import_events(target.store, exported.getvalue().splitlines(),
                                             batch_size=5)
        assert (count, imported_head, target.store.head()) == (written, head, head)

        project_into(source.store, source.db, projections)
        project_into(target.store, target.db, projections)
        before = dump(source.db, projections)
        assert before["chat_messages"] and before["channels"] and before["streams"]
        assert dump(target.db, projections) == before

        # The copy exports to the same bytes, and history cannot be imported twice.
        again = io.BytesIO()
        export(target.store, again, EventFilter())
        assert again.getvalue() == exported.getvalue()
        with pytest.raises(ReplayError, match="not past"):
            import_events(target.store, exported.getvalue().splitlines()[:1])
        # The store carries on after the imported history.
        World(store=target.store, hasher=FakeHasher()).user("carol")
        assert target.store.head() > head
    finally:
        source.close()
        target.close()


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`main()` configures logging onto the sys.stderr of the moment (pytest's capture,
    closed after the test): put the previous configuration back."""
    saved, root = structlog.get_config(), logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    for name in ("data_dir", "database_url", "namespace", "jwt_secret", "webhook_secret_key"):
        value = getattr(settings, name)
        if value is not None:
            monkeypatch.setenv(f"AETHEX_{name.upper()}", str(value))
    monkeypatch.setenv("AETHEX_LOG_LEVEL", "WARNING")


def test_cli_export_import_round_trip(settings_pair: tuple[Settings, Settings], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The same through `aethex events export -o` and `aethex events import`, with an
    export interrupted halfway and resumed."""
    source_settings, target_settings = settings_pair
    source = Services(source_settings)
    try:
        seed_world(source, messages=25)
        head = source.store.head()
    finally:
        source.close()
    out = tmp_path / "log.jsonl"
    _env(monkeypatch, source_settings)
    assert main(["events", "export", "-o", str(out), "--to", "20"]) == 0
    with out.open("ab") as f:  # an export killed mid-line
        f.write(b'{"position":21,"id":"cut sh')
    assert main(["events", "export", "-o", str(out), "--resume"]) == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == head
    assert b"stream_key" not in out.read_bytes() and b"password_hash" not in out.read_bytes()

    _env(monkeypatch, target_settings)
    assert main(["events", "import", str(out)]) == 0
    assert "imported" in capsys.readouterr().err
    target = Services(target_settings)
    try:
        assert target.store.head() == head
        copy = tmp_path / "copy.jsonl"
        assert main(["events", "export", "-o", str(copy)]) == 0
        assert copy.read_bytes() == out.read_bytes()
    finally:
        target.close()


def test_replay_until_a_moment_into_a_separate_target(
        settings_pair: tuple[Settings, Settings], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings, _ = settings_pair
    projections = all_projections()
    services = Services(settings)
    try:
        world = seed_world(services, messages=10)
        project_into(services.store, services.db, projections)
        live_before = dump(services.db, projections)
        time.sleep(0.02)
        moment = datetime.now(UTC)
        time.sleep(0.02)
        later = world.user("latecomer")
        channel = world.channel(later, "late-tv")
        stream = world.live_stream(channel)
        for i in range(5):
            world.say(later, stream.id, f"after the moment {i}")
        live_position = tracking.position(services.db, "chat_history")
    finally:
        services.close()

    into = (str(tmp_path / "past.sqlite") if not settings.production
            else f"{settings.namespace}_past")
    _env(monkeypatch, settings)
    try:
        assert main(["replay", "--until", moment.isoformat(), "--into", into]) == 0
        past = open_target(settings, into)
        try:
            assert dump(past, projections) == live_before  # the world as it was
            assert past.fetch_one("SELECT COUNT(*) AS n FROM users WHERE username = ?",
                                  ("latecomer",)) == {"n": 0}
        finally:
            past.close()
        services = Services(settings)  # the live read models were not touched
        try:
            assert tracking.position(services.db, "chat_history") == live_position
            assert dump(services.db, projections) == live_before
        finally:
            services.close()
        assert main(["replay", "--into", settings.namespace if settings.production
                     else str(settings.var / "read.sqlite")]) == 2  # refuses the live ones
    finally:
        if settings.production:
            drop_namespace(into)
