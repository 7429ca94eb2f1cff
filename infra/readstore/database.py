"""Read-model storage: one small SQL interface over PostgreSQL (pooled) and SQLite.

SQL is written once with `?` placeholders and portable types (TEXT, INTEGER, BIGINT);
the PostgreSQL adapter rewrites the placeholders.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from infra.settings import postgres_params
from projections.ports import Database, Params, Row, Tx

__all__ = ["Database", "Params", "PostgresDatabase", "Row", "SqliteDatabase", "Tx"]

@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _PgTx:
    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        cur = self.conn.execute(_pg_sql(sql), params, prepare=False)
        return cur.rowcount

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(_pg_sql(sql), rows)

    def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return self.conn.execute(_pg_sql(sql), params).fetchall()

    def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return self.conn.execute(_pg_sql(sql), params).fetchone()


class PostgresDatabase:
    """Read models in a PostgreSQL schema (the namespace), over a psycopg pool."""

    dialect: Literal["postgres", "sqlite"] = "postgres"

    def __init__(self, url: str, schema: str, *, max_size: int = 10,
                 wait_s: float = 3.0) -> None:
        self.url = url
        self.schema = schema
        self.params = postgres_params(url)
        with psycopg.connect(**self.params, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                psycopg.sql.Identifier(schema)))
        self.pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            # The application name tells this deployment's read-model connections apart
            # in pg_stat_activity (and lets an operator, or a test, end just those).
            kwargs={**self.params, "row_factory": dict_row,
                    "options": f"-c search_path={schema}",
                    "application_name": f"aethex.{schema}.read"},
            min_size=1,
            max_size=max_size,
            timeout=wait_s,  # a query's wait for a connection: 503 after it, not 30 s later
            open=True,
            name=f"read-{schema}",
        )

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Tx]:
        """`durable=False` skips waiting for the WAL flush at commit: for writes that can be
        redone from the event store (read models with their tracking row, the relay's
        position), where a crash may lose the last moments but never their consistency."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                if not durable:
                    conn.execute("SET LOCAL synchronous_commit TO OFF")
                yield _PgTx(conn)
        except psycopg.OperationalError:
            self._drop_dead_connections()
            raise

    def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            with self.pool.connection() as conn:
                return conn.execute(_pg_sql(sql), params).fetchall()
        except psycopg.OperationalError:
            self._drop_dead_connections()
            raise

    def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        try:
            with self.pool.connection() as conn:
                return conn.execute(_pg_sql(sql), params).fetchone()
        except psycopg.OperationalError:
            self._drop_dead_connections()
            raise

    def _drop_dead_connections(self) -> None:
        """After a connection error (the server restarted, or ended our sessions), every
        idle connection in the pool may be dead too, and the pool would hand each out
        once more, failing one caller per connection. Checking them all now (not on every
        checkout, which would cost a round trip per query) leaves only live ones."""
        with contextlib.suppress(Exception):  # still down: the next caller fails, retries
            self.pool.check()

    def close(self) -> None:
        self.pool.close()


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self.conn.executemany(sql, rows)

    def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return self.conn.execute(sql, params).fetchall()

    def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return self.conn.execute(sql, params).fetchone()


class SqliteDatabase:
    """Read models in a SQLite file (WAL), one connection per thread."""

    dialect: Literal["postgres", "sqlite"] = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=30)
            conn.row_factory = _dict_row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Tx]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _SqliteTx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._conn().execute(sql, params).fetchall()

    def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return self._conn().execute(sql, params).fetchone()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
