"""Rebuilding a projection without downtime.

The projection is built from the event store into a shadow (a PostgreSQL schema of its
own, or a SQLite file beside the live one) with the same table names, so the projection's
SQL runs there unchanged while the live read model keeps serving. The shadow keeps its
own tracking row, so an interrupted rebuild resumes where it stopped. When the shadow is
close to the head, the rebuild takes the projection's lock (the one every live commit
takes, see `projection_lock`), applies the last few events, and swaps in one transaction:
the live tables are replaced by the shadow's and the tracking row moves with them. The
live projector waits only for that transaction, then carries on from the new position.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from infra.eventstore.envelope import EventEnvelope
from infra.eventstore.event_store import EventStore
from infra.readstore.bulk_tx import bulk
from infra.readstore.database import Database, PostgresDatabase, SqliteDatabase, Tx
from infra.settings import Settings
from projections import tracking
from projections.base import TRACKING_DDL, Projection, migrate

ProgressFn = Callable[[int, int], None]


_PLAIN_INDEX = re.compile(r"^\s*CREATE\s+INDEX\b", re.IGNORECASE)
_UNLOGGED = re.compile(r"^\s*CREATE\s+TABLE\b", re.IGNORECASE)


def lock_key(namespace: str, name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks."""
    digest = hashlib.blake2b(f"{namespace}/projection/{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def projection_lock(tx: Tx, db: Database, name: str) -> None:
    """Serialises writes to one projection's read model: live commits and a rebuild's swap.

    PostgreSQL: an advisory lock held to the end of the transaction. SQLite needs nothing:
    every write transaction (BEGIN IMMEDIATE) already excludes every other writer.
    """
    if db.dialect == "postgres":
        tx.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(getattr(db, "schema", ""), name),))


@dataclass
class RebuildReport:
    """What a rebuild did."""

    name: str
    resumed_from: int
    position: int
    events: int
    seconds: float
    swapped: bool

    @property
    def rate(self) -> float:
        """Log positions scanned per second."""
        return (self.position - self.resumed_from) / self.seconds if self.seconds else 0.0


class ShadowRebuild:
    """Builds one projection into a shadow and swaps it in (see the module docstring)."""

    def __init__(self, settings: Settings, store: EventStore, live_db: Database,
                 projection: Projection, *, batch_size: int = 5000,
                 on_progress: ProgressFn | None = None, close_gap: int | None = None,
                 on_swap: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.live_db = live_db
        self.projection = projection
        self.batch_size = batch_size
        self.on_progress = on_progress
        # The swap waits for at most this many events, applied while holding the lock.
        self.close_gap = batch_size if close_gap is None else close_gap
        self.events = 0
        # Runs inside the swap transaction, after the tables moved, before the commit: the
        # moment live commits are held (for logging, and for tests to widen that window).
        self.on_swap = on_swap

    @property
    def name(self) -> str:
        return self.projection.name

    @property
    def shadow_schema(self) -> str:
        return f"{self.settings.namespace}__rebuild_{self.name}"[:63]

    @property
    def shadow_path(self) -> Path:
        return self.settings.var / f"read.rebuild-{self.name}.sqlite"

    # --- the shadow -------------------------------------------------------------------

    def open_shadow(self) -> Database:
        if self.live_db.dialect == "postgres":
            assert self.settings.database_url
            return PostgresDatabase(self.settings.database_url, self.shadow_schema, max_size=2)
        return SqliteDatabase(self.shadow_path)

    def shadow_position(self) -> int | None:
        """How far an earlier, interrupted rebuild got (None: no shadow)."""
        if self.live_db.dialect == "postgres":
            if not tracking.in_schema(self.live_db, self.shadow_schema):
                return None
        elif not self.shadow_path.exists():
            return None
        shadow = self.open_shadow()
        try:
            migrate(shadow, [])
            return tracking.position(shadow, self.name)
        finally:
            shadow.close()

    def discard_shadow(self) -> None:
        """Forgets an interrupted rebuild, so the next one starts from the beginning."""
        if self.live_db.dialect == "postgres":
            with self.live_db.transaction() as tx:
                tx.execute(f'DROP SCHEMA IF EXISTS "{self.shadow_schema}" CASCADE')
            return
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.shadow_path}{suffix}").unlink()

    def _create_shadow(self, shadow: Database) -> None:
        """The projection's tables, for bulk loading: without their plain (non-unique)
        indexes, which `_finish_shadow` builds once at the end, and in PostgreSQL
        UNLOGGED (no WAL per row). A server crash empties unlogged tables, the tracking
        one too, so the shadow stays consistent (it restarts from the beginning)."""
        postgres = shadow.dialect == "postgres"
        with shadow.transaction() as tx:
            for statement in [*TRACKING_DDL, *self.projection.ddl]:
                if _PLAIN_INDEX.match(statement):
                    continue
                tx.execute(_UNLOGGED.sub("CREATE UNLOGGED TABLE", statement) if postgres
                           else statement)

    def _finish_shadow(self, shadow: Database) -> None:
        """Builds the deferred indexes and makes the tables durable, before the swap."""
        with shadow.transaction() as tx:
            for statement in self.projection.ddl:
                if _PLAIN_INDEX.match(statement):
                    tx.execute(statement)
            if shadow.dialect == "postgres":
                for table in (*self.projection.tables, tracking.TABLE):
                    tx.execute(f'ALTER TABLE "{table}" SET LOGGED')

    def _apply(self, shadow: Database, events: list[EventEnvelope], upto: int) -> None:
        with shadow.transaction() as tx:
            if shadow.dialect == "postgres":
                # A crash loses at most the last few batches, rows and tracking together,
                # and the rerun redoes them: durability of each commit buys nothing here.
                tx.execute("SET LOCAL synchronous_commit = off")
            # Skips what the shadow already has, so two rebuilds run by mistake at once
            # cannot apply an event twice.
            current = tracking.position(tx, self.name)
            if upto <= current:
                return
            events = [e for e in events if e.position > current]
            if events:
                self.projection.apply(bulk(tx, shadow), events)
            tracking.set_position(tx, self.name, upto, datetime.now(UTC).isoformat())
        self.events += len(events)

    def _batches(self, position: int, stop: int) -> Iterator[tuple[list[EventEnvelope], int]]:
        """The log from `position` to `stop`, reading the next batch while the caller
        writes this one (the store and the read database work in parallel)."""
        types = self.projection.types
        with ThreadPoolExecutor(1, thread_name_prefix=f"rebuild-{self.name}") as pool:
            ahead: Future[tuple[list[EventEnvelope], int]] | None = pool.submit(
                self.store.read, position, self.batch_size, types=types, stop=stop)
            try:
                while ahead is not None:
                    events, upto = ahead.result()
                    if upto <= position:
                        return
                    ahead = (pool.submit(self.store.read, upto, self.batch_size,
                                         types=types, stop=stop) if upto < stop else None)
                    yield events, upto
                    position = upto
            finally:
                if ahead is not None:
                    ahead.cancel()

    def _catch_up(self, shadow: Database, position: int, head: int) -> int:
        for events, upto in self._batches(position, head):
            self._apply(shadow, events, upto)
            position = upto
            if self.on_progress is not None:
                self.on_progress(position, head)
        return position

    # --- the whole rebuild --------------------------------------------------------------

    def run(self, *, swap: bool = True) -> RebuildReport:
        """Builds (or resumes) the shadow, catches up, swaps. Interrupting it (Ctrl-C)
        at any point leaves the live read model as it was and the shadow resumable."""
        started = time.monotonic()
        migrate(self.live_db, [])  # the live tracking table the swap writes to
        shadow = self.open_shadow()
        try:
            self._create_shadow(shadow)
            resumed_from = position = tracking.position(shadow, self.name)
            while True:
                head = self.store.head()
                if head - position <= self.close_gap:
                    break
                position = self._catch_up(shadow, position, head)
            if swap:
                self._finish_shadow(shadow)
                position = self._catch_up(shadow, position, self.store.head())
                position = self._swap(shadow, position)
        finally:
            shadow.close()
        if swap:
            self.discard_shadow()
        return RebuildReport(self.name, resumed_from, position, self.events,
                             time.monotonic() - started, swap)

    def _swap(self, shadow: Database, position: int) -> int:
        if self.live_db.dialect == "postgres":
            return self._swap_postgres(shadow, position)
        return self._swap_sqlite(shadow, position)

    def _swap_postgres(self, shadow: Database, position: int) -> int:
        assert self.settings.database_url
        live = self.settings.namespace
        with psycopg.connect(self.settings.database_url) as conn, conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '30s'")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(live, self.name),))
            # Live commits wait from here on: the last events go into the shadow first.
            head = self.store.head()
            position = self._catch_up(shadow, position, head)
            for table in self.projection.tables:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(
                    sql.Identifier(live), sql.Identifier(table)))
                conn.execute(sql.SQL("ALTER TABLE {}.{} SET SCHEMA {}").format(
                    sql.Identifier(self.shadow_schema), sql.Identifier(table),
                    sql.Identifier(live)))
            self._move_tracking(conn.execute, sql.SQL("{}.{}").format(
                sql.Identifier(live), sql.SQL(tracking.TABLE)).as_string(conn), position, "%s")
            if self.on_swap is not None:
                self.on_swap()
            # In the same transaction: a shadow whose tables are gone must not be resumed.
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(
                sql.Identifier(self.shadow_schema)))
        return position

    def _swap_sqlite(self, shadow: Database, position: int) -> int:
        path = getattr(self.live_db, "path", None)
        assert path
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            # A write transaction on the live file: live commits wait from here on.
            conn.execute("BEGIN IMMEDIATE")
            try:
                head = self.store.head()
                position = self._catch_up(shadow, position, head)
                for table in self.projection.tables:
                    conn.execute(f'DROP TABLE IF EXISTS "{table}"')
                for statement in self.projection.ddl:
                    conn.execute(statement)
                for table in self.projection.tables:
                    self._copy_table(shadow, conn, table)
                self._move_tracking(conn.execute, tracking.TABLE, position, "?")
                if self.on_swap is not None:
                    self.on_swap()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()
        return position

    @staticmethod
    def _copy_table(shadow: Database, conn: sqlite3.Connection, table: str) -> None:
        source = sqlite3.connect(getattr(shadow, "path"))  # noqa: B009 - SQLite only
        try:
            cursor = source.execute(f'SELECT * FROM "{table}"')
            marks = ", ".join("?" * len(cursor.description))
            while rows := cursor.fetchmany(5000):
                conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
        finally:
            source.close()

    def _move_tracking(self, execute: Callable[..., Any], table: str, position: int,
                       mark: str) -> None:
        tracking.move(execute, table, mark, self.name, position, datetime.now(UTC).isoformat())


def reset(db: Database, projection: Projection) -> None:
    """Empties a read model and forgets its position, under the projection's lock. A
    running projector notices at its next batch and replays the log from the start."""
    with db.transaction() as tx:
        projection_lock(tx, db, projection.name)
        for table in projection.tables:
            tx.execute(f'DELETE FROM "{table}"')
        tracking.forget(tx, projection.name)

