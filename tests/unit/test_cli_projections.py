"""What `aethex projections rebuild` relies on, checked without services: each projection
names every table it creates (the swap moves exactly those), lock keys are stable and
distinct, and a rebuild/reset on the embedded store works end to end."""

from __future__ import annotations

import re
from pathlib import Path

from infra.eventstore.event_store import EventStore
from infra.readstore.database import SqliteDatabase
from infra.settings import load_settings
from projections import tracking
from projections.base import migrate
from projections.chat_history import ChatHistory
from projections.registry import all_projections
from workers.rebuild import ShadowRebuild, lock_key, reset

from .support import World


def test_every_projection_lists_the_tables_its_ddl_creates() -> None:
    for p in all_projections():
        created = {t for s in p.ddl for t in re.findall(
            r"CREATE TABLE IF NOT EXISTS (\w+)", s, re.IGNORECASE)}
        assert created == set(p.tables), (
            f"{p.name}: `tables` must name every table its DDL creates, or a rebuild "
            f"would leave some behind (DDL: {sorted(created)}, tables: {p.tables})")


def test_lock_keys_are_stable_signed_64_bit_and_distinct() -> None:
    keys = {lock_key(ns, p.name) for ns in ("aethex", "t_1") for p in all_projections()}
    assert len(keys) == 2 * len(all_projections())
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert lock_key("aethex", "users") == lock_key("aethex", "users")


def test_embedded_rebuild_replaces_the_live_rows_and_reset_empties(
        store: EventStore, world: World, tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=str(tmp_path / "var"), jwt_secret="x" * 32)
    owner = world.user("alice")
    stream = world.live_stream(world.channel(owner, "alice-tv"))
    for i in range(30):
        world.say(owner, stream.id, f"m{i}")
    db = SqliteDatabase(settings.var / "read.sqlite")
    try:
        migrate(db, [ChatHistory()])
        with db.transaction() as tx:  # a wrong live read model
            tx.execute("INSERT INTO chat_messages (id, stream_id, channel_id, user_id, username, "
                       "display_name, badges, content, created_at, position) VALUES "
                       "('bogus', 's', 'c', 'u', 'n', 'd', '[]', 'never sent', 't', 1)")
        report = ShadowRebuild(settings, store, db, ChatHistory(), batch_size=7).run()
        assert report.swapped and report.position == store.head() and report.events == 30
        contents = [r["content"] for r in db.fetch_all(
            "SELECT content FROM chat_messages ORDER BY position")]
        assert contents == [f"m{i}" for i in range(30)]
        assert tracking.position(db, "chat_history") == store.head()
        assert not (settings.var / "read.rebuild-chat_history.sqlite").exists()

        reset(db, ChatHistory())
        assert db.fetch_all("SELECT id FROM chat_messages") == []
        assert tracking.position(db, "chat_history") == 0
    finally:
        db.close()
