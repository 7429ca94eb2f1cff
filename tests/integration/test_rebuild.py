"""Rebuilding a projection without downtime, on both modes: writes going on while the
rebuild runs are not lost; an interrupted rebuild (in the build or in the swap) leaves the
live read model alone and resumes; reset makes a running projector replay the log."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from commands.send_message import Author, SendMessage, send_messages
from entrypoints.bootstrap import Services
from entrypoints.cli import main
from infra.settings import Settings
from projections import tracking
from projections.base import migrate
from projections.chat_history import ChatHistory
from tests.harness import (
    drop_namespace,
    embedded_settings,
    new_namespace,
    production_settings,
    require_services,
)
from tests.integration.test_export_replay import _env, restore_logging
from tests.integration.test_projectors import Counter, counted, seed_messages
from workers.projector import ProjectorRunner
from workers.rebuild import ShadowRebuild, reset
from workers.replay import open_target, project_into

__all__ = ["restore_logging"]  # an autouse fixture, shared
COLUMNS = "id, stream_id, user_id, content, position, deleted_at"


@pytest.fixture(params=["embedded", "production"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "embedded":
        yield embedded_settings(tmp_path, projector_batch_size=50, relay_batch_size=50)
        return
    require_services()
    namespace = new_namespace()
    try:
        yield production_settings(tmp_path, namespace, projector_batch_size=50,
                                  relay_batch_size=50)
    finally:
        for schema in (namespace, f"{namespace}_fresh", f"{namespace}__rebuild_chat_history",
                       f"{namespace}__rebuild_counter"):
            drop_namespace(schema)


def rows(db: object) -> list[dict]:
    return db.fetch_all(f"SELECT {COLUMNS} FROM chat_messages ORDER BY id")  # type: ignore[attr-defined]


def fresh_projection(services: Services, tmp_path: Path) -> list[dict]:
    """What a projection built from scratch, now, holds."""
    into = (f"{services.settings.namespace}_fresh" if services.settings.production
            else str(tmp_path / "fresh.sqlite"))
    target = open_target(services.settings, into, replace=True)
    try:
        project_into(services.store, target, [ChatHistory()])
        return rows(target)
    finally:
        target.close()


async def wait_caught_up(services: Services, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while tracking.position(services.db, name) < services.store.head():
        assert time.monotonic() < deadline, f"{name} did not catch up"
        await asyncio.sleep(0.02)


class Writer(threading.Thread):
    """Sends chat messages in small batches until stopped."""

    def __init__(self, services: Services, stream_id: UUID) -> None:
        super().__init__(daemon=True)
        self.services, self.stream_id = services, stream_id
        self.stopping = threading.Event()
        self.sent = 0

    def run(self) -> None:
        author = Author(id=UUID(int=7), username="writer", display_name="Writer")
        while not self.stopping.is_set():
            results = send_messages([SendMessage(stream_id=self.stream_id, author=author,
                                                 content=f"during {self.sent + i}")
                                     for i in range(5)], self.services.store)
            assert not any(isinstance(r, Exception) for r in results)
            self.sent += len(results)
            time.sleep(0.002)


async def test_rebuild_under_concurrent_writes_loses_nothing(settings: Settings,
                                                             tmp_path: Path) -> None:
    services = Services(settings)
    writer: Writer | None = None
    try:
        stream_id = seed_messages(services, 2000, batch=250)
        await services.start(workers=["relay", "projector:chat_history"])
        await wait_caught_up(services, "chat_history")
        # A bug lost some rows: the reason to rebuild.
        with services.db.transaction() as tx:
            tx.execute("DELETE FROM chat_messages WHERE content LIKE 'm1%'")
        assert len(rows(services.db)) < 2000

        writer = Writer(services, stream_id)
        writer.start()
        live_before = tracking.position(services.db, "chat_history")
        moved_during: list[int] = []

        def progress(position: int, head: int) -> None:
            moved_during.append(tracking.position(services.db, "chat_history"))
            time.sleep(0.002)  # slow enough for the writer and live projector to interleave

        rebuild = ShadowRebuild(settings, services.store, services.db, ChatHistory(),
                                batch_size=100, on_progress=progress)
        report = await asyncio.to_thread(rebuild.run)
        assert report.swapped and report.position > live_before
        # The live projector kept committing while the shadow was built.
        assert max(moved_during) > live_before, "the live projector was paused"
        await asyncio.sleep(0.2)  # a few more writes after the swap
        writer.stopping.set()
        writer.join(10)
        assert writer.sent > 0
        await wait_caught_up(services, "chat_history")

        live = rows(services.db)
        assert len(live) == 2000 + writer.sent
        assert live == fresh_projection(services, tmp_path)
        assert rebuild.shadow_position() is None  # the shadow is gone
    finally:
        if writer is not None:
            writer.stopping.set()
            writer.join(10)
        await services.stop()
        services.close()


async def test_rebuild_of_a_counting_projection_under_writes_counts_each_event_once(
        settings: Settings) -> None:
    """The counter adds one per event it is given, so an event applied twice (the live
    projector and the swap racing) or never (lost between the two) shows in the count."""
    services = Services(settings)
    writer: Writer | None = None
    stopping = asyncio.Event()
    task = None
    try:
        migrate(services.db, [Counter()])
        stream_id = seed_messages(services, 1500, batch=250)
        await services.start(workers=["relay"])
        runner = ProjectorRunner(Counter(), services.store, services.db, services.bus,
                                 batch_size=50, prefetch=5)
        task = asyncio.create_task(runner.run(stopping))
        await wait_caught_up(services, "counter")
        with services.db.transaction() as tx:  # a wrong count: the reason to rebuild
            tx.execute("UPDATE event_counter SET n = n + 1000")
        writer = Writer(services, stream_id)
        writer.start()
        for _ in range(3):  # rebuild repeatedly while the writes and the live one go on
            rebuild = ShadowRebuild(settings, services.store, services.db, Counter(),
                                    batch_size=100, close_gap=20,
                                    on_progress=lambda position, head: time.sleep(0.001),
                                    on_swap=lambda: time.sleep(0.3))  # live commits pile up
            await asyncio.to_thread(rebuild.run)
        writer.stopping.set()
        writer.join(10)
        await wait_caught_up(services, "counter")
        assert writer.sent > 0
        assert counted(services) == 1500 + writer.sent
    finally:
        if writer is not None:
            writer.stopping.set()
            writer.join(10)
        stopping.set()
        if task is not None:
            await asyncio.wait_for(task, 10)
        await services.stop()
        services.close()


class Interrupt(KeyboardInterrupt):
    """What Ctrl-C raises, from a chosen point."""


def interrupt_after(batches: int) -> object:
    seen = 0

    def progress(position: int, head: int) -> None:
        nonlocal seen
        seen += 1
        if seen >= batches:
            raise Interrupt

    return progress


@pytest.mark.parametrize("where", ["build", "swap"])
async def test_interrupted_rebuild_leaves_live_alone_and_resumes(
        settings: Settings, tmp_path: Path, where: str) -> None:
    services = Services(settings)
    try:
        seed_messages(services, 1200, batch=200)
        project_into(services.store, services.db, [ChatHistory()])
        with services.db.transaction() as tx:  # make the live one visibly different
            tx.execute("DELETE FROM chat_messages WHERE content LIKE 'm2%'")
        live_rows, live_position = rows(services.db), tracking.position(services.db,
                                                                          "chat_history")
        # close_gap: in "swap" everything is left to the swap, which is interrupted.
        first = ShadowRebuild(settings, services.store, services.db, ChatHistory(),
                              batch_size=100, on_progress=interrupt_after(4),
                              close_gap=10**9 if where == "swap" else None)
        with pytest.raises(Interrupt):
            first.run()
        assert rows(services.db) == live_rows
        assert tracking.position(services.db, "chat_history") == live_position
        done = first.shadow_position()
        assert done is not None and 0 < done < services.store.head()

        second = ShadowRebuild(settings, services.store, services.db, ChatHistory(),
                               batch_size=100)
        report = second.run()
        assert report.resumed_from == done and report.swapped
        assert rows(services.db) == fresh_projection(services, tmp_path)
        assert len(rows(services.db)) == 1200
    finally:
        services.close()


def test_cli_rebuild_and_reset(settings: Settings, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    services = Services(settings)
    try:
        seed_messages(services, 300, batch=100)
        head = services.store.head()
    finally:
        services.close()
    _env(monkeypatch, settings)
    assert main(["projections", "rebuild", "chat_history", "--batch-size", "50"]) == 0
    assert "rebuilt chat_history" in capsys.readouterr().err
    assert main(["projections", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert f'"position": {head}' in listed and '"lagEvents": 0' in listed
    assert main(["projections", "rebuild", "nope"]) == 2

    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("no\n"))
    assert main(["projections", "reset", "chat_history"]) == 1  # not confirmed
    services = Services(settings)
    try:
        assert tracking.position(services.db, "chat_history") == head
    finally:
        services.close()
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("chat_history\n"))
    assert main(["projections", "reset", "chat_history"]) == 0
    services = Services(settings)
    try:
        assert tracking.position(services.db, "chat_history") == 0
        assert rows(services.db) == []
    finally:
        services.close()


async def test_reset_makes_a_running_projector_replay(settings: Settings) -> None:
    services = Services(settings)
    try:
        stream_id = seed_messages(services, 400, batch=100)
        await services.start(workers=["relay", "projector:chat_history"])
        await wait_caught_up(services, "chat_history")
        reset(services.db, ChatHistory())
        assert rows(services.db) == []
        author = Author(id=UUID(int=9), username="late", display_name="Late")
        send_messages([SendMessage(stream_id=stream_id, author=author, content="after reset")],
                      services.store)
        await wait_caught_up(services, "chat_history")
        assert len(rows(services.db)) == 401
    finally:
        await services.stop()
        services.close()


async def test_reset_on_a_quiet_system_replays_without_a_new_event(settings: Settings) -> None:
    services = Services(settings)
    try:
        seed_messages(services, 120, batch=60)
        await services.start(workers=["relay", "projector:chat_history"])
        await wait_caught_up(services, "chat_history")
        reset(services.db, ChatHistory())
        assert rows(services.db) == []
        deadline = asyncio.get_running_loop().time() + 15
        while len(rows(services.db)) != 120:  # nothing new is written meanwhile
            assert asyncio.get_running_loop().time() < deadline, "the reset was not noticed"
            await asyncio.sleep(0.1)
    finally:
        await services.stop()
        services.close()


def test_bulk_inserts_keep_row_by_row_meaning(settings: Settings) -> None:
    """The COPY path of bulk builds: the first of two rows with one key wins (as row by
    row), upserts and short lists take the ordinary path, and the rows land whole."""
    from infra.readstore.bulk_tx import bulk

    services = Services(settings)
    try:
        with services.db.transaction() as tx:
            tx.execute("CREATE TABLE IF NOT EXISTS bulk_check (k TEXT PRIMARY KEY, "
                       "v BIGINT NOT NULL, note TEXT, d BIGINT NOT NULL DEFAULT 7)")
        rows = [(f"k{i % 150}", i, None if i % 2 else f"n{i}") for i in range(300)]
        with services.db.transaction() as tx:
            wrapped = bulk(tx, services.db)
            wrapped.executemany("INSERT INTO bulk_check (k, v, note) VALUES (?, ?, ?) "
                                "ON CONFLICT (k) DO NOTHING", rows)
            wrapped.executemany("INSERT INTO bulk_check (k, v, note) VALUES (?, ?, ?) "
                                "ON CONFLICT (k) DO UPDATE SET v = bulk_check.v + excluded.v",
                                [("k0", 1000, None), ("k0", 1000, None)])
            wrapped.executemany("INSERT INTO bulk_check (k, v, note) VALUES (?, ?, ?)",
                                [(f"x{i}", i, "it's \t tab") for i in range(60)])
        got = {r["k"]: r for r in services.db.fetch_all("SELECT * FROM bulk_check")}
        assert len(got) == 210
        assert got["k0"]["v"] == 2000 and got["k0"]["note"] == "n0"
        assert all(got[f"k{i}"]["v"] == i for i in range(1, 150))
        assert got["k3"]["note"] is None and got["k3"]["d"] == 7
        assert got["x59"]["note"] == "it's \t tab"
    finally:
        services.close()


@pytest.fixture
def pg_settings(tmp_path: Path) -> Iterator[Settings]:
    """PostgreSQL only: the bulk COPY paths do not exist on SQLite."""
    require_services()
    namespace = new_namespace()
    try:
        yield production_settings(tmp_path, namespace)
    finally:
        drop_namespace(namespace)


def test_bulk_inserts_copy_straight_in_and_fall_back_on_a_clash(pg_settings: Settings) -> None:
    """New keys are copied straight into the table; a batch that meets a stored key is
    undone to its savepoint and staged, so "do nothing on conflict" still holds and
    nothing of the failed COPY remains."""
    from infra.readstore.bulk_tx import BulkTx, bulk

    insert = "INSERT INTO bulk_direct (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING"
    services = Services(pg_settings)
    try:
        with services.db.transaction() as tx:
            tx.execute("CREATE TABLE IF NOT EXISTS bulk_direct (k TEXT PRIMARY KEY, "
                       "v BIGINT NOT NULL)")
        with services.db.transaction() as tx:
            wrapped = bulk(tx, services.db)
            assert isinstance(wrapped, BulkTx)
            wrapped.executemany(insert, [(f"a{i}", i) for i in range(100)])
            wrapped.executemany(insert, [(f"b{i}", i) for i in range(100)])
            assert (wrapped.direct, wrapped.staged) == (2, 0)
        with services.db.transaction() as tx:
            wrapped = bulk(tx, services.db)
            # a99 is stored already: the COPY fails at its last row and is undone
            wrapped.executemany(insert, [(f"c{i}", -i) for i in range(99)] + [("a99", -1)])
            wrapped.executemany(insert, [(f"d{i}", i) for i in range(100)])
            assert (wrapped.direct, wrapped.staged) == (0, 2)  # the table stays staged
        got = {r["k"]: r["v"] for r in services.db.fetch_all("SELECT k, v FROM bulk_direct")}
        assert len(got) == 399 and got["a99"] == 99 and got["c98"] == -98 and got["d5"] == 5
    finally:
        services.close()


def test_every_projection_rebuilds_to_what_a_fresh_build_gives(settings: Settings,
                                                                tmp_path: Path) -> None:
    from projections.registry import all_projections
    from tests.integration.test_export_replay import dump, seed_world

    services = Services(settings)
    try:
        seed_world(services, messages=60)
        projections = all_projections()
        project_into(services.store, services.db, projections)
        with services.db.transaction() as tx:  # every live read model a little wrong
            for p in projections:
                for table in p.tables:
                    tx.execute(f"DELETE FROM {table}")
        for p in projections:
            report = ShadowRebuild(settings, services.store, services.db, p,
                                   batch_size=7).run()
            assert report.swapped and report.position == services.store.head(), p.name
        into = (f"{settings.namespace}_fresh" if settings.production
                else str(tmp_path / "fresh.sqlite"))
        fresh = open_target(settings, into, replace=True)
        try:
            project_into(services.store, fresh, projections)
            assert dump(services.db, projections) == dump(fresh, projections)
        finally:
            fresh.close()
    finally:
        services.close()
