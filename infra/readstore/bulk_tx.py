"""A transaction wrapper for building read models in bulk (rebuilds, replays) on PostgreSQL.

Row-at-a-time INSERTs are what a bulk build spends its time on; COPY moves rows several
times faster. So `executemany` of a plain INSERT (or one that does nothing on conflict)
first COPYs the rows straight into the table, under a savepoint: a batch whose keys are
all new (a rebuild's usual batch) needs nothing more. If a key clashes, the savepoint is
rolled back and the rows are copied into a temporary staging table and inserted from
there in one statement, in their original order (so "the first one wins" on conflict, as
it would row by row). Everything else, upserts included, passes through unchanged: a
multi-row upsert may not touch one row twice, where row-by-row upserts may.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import errors, sql

from infra.readstore.database import Database, Row, Tx

_INSERT = re.compile(
    r"^\s*INSERT INTO (\w+) \(([\w\s,]+)\) VALUES \((?:\?,\s*)*\?\)"
    r"(\s+ON CONFLICT\s*(?:\([\w\s,]+\))?\s*DO NOTHING)?\s*$", re.IGNORECASE | re.DOTALL)


class BulkTx:
    """Wraps one PostgreSQL transaction (a `Tx`); see the module docstring."""

    def __init__(self, tx: Tx, *, min_rows: int = 50) -> None:
        self.tx = tx
        self.conn: Any = getattr(tx, "conn", None)
        self.min_rows = min_rows
        self._staged: set[str] = set()
        self._clashed: set[str] = set()  # tables whose direct COPY met a key: staged from now
        self.direct = self.staged = 0  # executemany calls that took each path

    def execute(self, sql_: str, params: Sequence[Any] = ()) -> int:
        return self.tx.execute(sql_, params)

    def fetch_all(self, sql_: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.tx.fetch_all(sql_, params)

    def fetch_one(self, sql_: str, params: Sequence[Any] = ()) -> Row | None:
        return self.tx.fetch_one(sql_, params)

    def executemany(self, sql_: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = rows if isinstance(rows, list) else list(rows)
        match = _INSERT.match(sql_) if self.conn is not None else None
        if match is None or len(rows) < self.min_rows:
            self.tx.executemany(sql_, rows)
            return
        table, columns, on_conflict = match[1], [c.strip() for c in match[2].split(",")], \
            match[3] or ""
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        if table not in self._clashed:
            try:
                with self.conn.transaction():  # a savepoint: a clash undoes only this COPY
                    self._copy(sql.Identifier(table), cols, rows)
                self.direct += 1
                return
            except errors.UniqueViolation:
                self._clashed.add(table)
        self._stage(table, cols, rows, on_conflict)
        self.staged += 1

    def _copy(self, target: sql.Composable, cols: sql.Composable,
              rows: list[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur, cur.copy(
                sql.SQL("COPY {} ({}) FROM STDIN").format(target, cols)) as copy:
            for row in rows:
                copy.write_row(row)

    def _stage(self, table: str, cols: sql.Composable, rows: list[Sequence[Any]],
               on_conflict: str) -> None:
        staging = f"_bulk_{table}"
        if staging not in self._staged:
            # Temporary, per connection; emptied at every commit, so it is reused as is.
            self.conn.execute(sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS, "
                "_bulk_order BIGSERIAL) ON COMMIT DELETE ROWS").format(
                    sql.Identifier(staging), sql.Identifier(table)))
            self._staged.add(staging)
        self._copy(sql.Identifier(staging), cols, rows)
        with self.conn.cursor() as cur:
            cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY _bulk_order"
                                ).format(sql.Identifier(table), cols, cols,
                                         sql.Identifier(staging)) + sql.SQL(on_conflict))
            cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(staging)))


def bulk(tx: Tx, db: Database) -> Tx:
    """`tx` wrapped for bulk inserts on PostgreSQL; as is on SQLite (already in-process)."""
    return BulkTx(tx) if db.dialect == "postgres" else tx
