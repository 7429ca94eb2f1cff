"""The tracking table: how far each projection has applied the log, and its last error.

A projection's rows and its tracking row are written in one transaction, which is what
makes applying an event exactly-once. Every statement on the table is here; callers that
hold a raw driver connection (a rebuild's swap, the fault suite) pass the table's
qualified name and their driver's placeholder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from projections.ports import Database, Tx

TABLE = "projection_tracking"

DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        name TEXT PRIMARY KEY,
        position BIGINT NOT NULL,
        updated_at TEXT NOT NULL DEFAULT '',
        last_error TEXT
    )"""


def position(tx_or_db: Tx | Database, name: str) -> int:
    """The projection's position (0: it has applied nothing)."""
    row = tx_or_db.fetch_one(f"SELECT position FROM {TABLE} WHERE name = ?", (name,))
    return int(row["position"]) if row else 0


def positions(db: Database, names: Sequence[str]) -> dict[str, int]:
    """Every named projection's position, 0 for one without a row."""
    marks = ",".join("?" for _ in names)
    rows = db.fetch_all(
        f"SELECT name, position FROM {TABLE} WHERE name IN ({marks})", tuple(names)
    )
    found = {r["name"]: int(r["position"]) for r in rows}
    return {n: found.get(n, 0) for n in names}


def rows(db: Database) -> dict[str, dict[str, Any]]:
    """Every tracking row (position, updated_at, last_error), by projection name."""
    return {r["name"]: r for r in db.fetch_all(
        f"SELECT name, position, updated_at, last_error FROM {TABLE}")}


def all_positions_sql(table: str = TABLE) -> str:
    """Every (name, position), for a caller with a driver connection of its own."""
    return f"SELECT name, position FROM {table}"


def _upsert_sql(table: str, mark: str) -> str:
    return (f"INSERT INTO {table} (name, position, updated_at, last_error) "
            f"VALUES ({mark}, {mark}, {mark}, NULL) ON CONFLICT (name) DO UPDATE SET "
            "position = excluded.position, updated_at = excluded.updated_at, last_error = NULL")


def set_position(tx: Tx, name: str, position: int, now: str) -> None:
    """Moves the projection to `position` and clears its error, in the caller's
    transaction (the one that wrote the rows up to it)."""
    tx.execute(_upsert_sql(TABLE, "?"), (name, position, now))


def move(execute: Callable[..., Any], table: str, mark: str, name: str, position: int,
         now: str) -> None:
    """`set_position` through a driver's `execute`: `table` may be schema-qualified, and
    `mark` is the driver's placeholder (`?` for sqlite3, `%s` for psycopg)."""
    execute(_upsert_sql(table, mark), (name, position, now))


def record_error(tx: Tx, name: str, error: str, now: str) -> None:
    """Notes a failed run; the position is left as it was (0 for a new row)."""
    tx.execute(
        f"INSERT INTO {TABLE} (name, position, updated_at, last_error) "
        "VALUES (?, 0, ?, ?) ON CONFLICT (name) DO UPDATE SET last_error = ?",
        (name, now, error, error))


def clear_error(tx: Tx, name: str) -> None:
    tx.execute(f"UPDATE {TABLE} SET last_error = NULL "
               "WHERE name = ? AND last_error IS NOT NULL", (name,))


def forget(tx: Tx, name: str) -> None:
    """Drops the projection's row: it starts again from position 0."""
    tx.execute(f"DELETE FROM {TABLE} WHERE name = ?", (name,))


def in_schema(db: Database, schema: str) -> bool:
    """PostgreSQL: whether `schema` has a tracking table (a rebuild's shadow does)."""
    return db.fetch_one(
        "SELECT 1 AS ok FROM information_schema.tables WHERE table_schema = ? "
        f"AND table_name = '{TABLE}'", (schema,)) is not None
