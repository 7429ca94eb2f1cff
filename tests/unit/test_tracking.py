"""The tracking table's statements (projections/tracking.py) on the embedded database:
positions, errors, forgetting, and the driver-level move a rebuild's swap uses."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from infra.readstore.database import SqliteDatabase
from projections import tracking
from projections.base import migrate


def test_positions_errors_and_forgetting(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "read.sqlite")
    try:
        migrate(db, [])
        assert tracking.position(db, "a") == 0
        with db.transaction() as tx:
            tracking.set_position(tx, "a", 7, "2026-01-01T00:00:00+00:00")
            tracking.record_error(tx, "b", "boom", "2026-01-01T00:00:01+00:00")
        assert tracking.positions(db, ["a", "b", "c"]) == {"a": 7, "b": 0, "c": 0}
        rows = tracking.rows(db)
        assert rows["b"]["last_error"] == "boom" and rows["a"]["last_error"] is None

        with db.transaction() as tx:  # an error keeps the position; moving clears it
            tracking.record_error(tx, "a", "again", "2026-01-01T00:00:02+00:00")
        assert tracking.position(db, "a") == 7
        assert tracking.rows(db)["a"]["last_error"] == "again"
        with db.transaction() as tx:
            tracking.clear_error(tx, "a")
        assert tracking.rows(db)["a"]["last_error"] is None

        with db.transaction() as tx:
            tracking.forget(tx, "a")
        assert tracking.position(db, "a") == 0 and "a" not in tracking.rows(db)
    finally:
        db.close()


def test_move_through_a_driver_connection_clears_the_error(tmp_path: Path) -> None:
    path = tmp_path / "read.sqlite"
    db = SqliteDatabase(path)
    try:
        migrate(db, [])
        with db.transaction() as tx:
            tracking.record_error(tx, "a", "boom", "t0")
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            tracking.move(conn.execute, tracking.TABLE, "?", "a", 42, "t1")
            conn.execute("COMMIT")
            assert conn.execute(tracking.all_positions_sql()).fetchall() == [("a", 42)]
        finally:
            conn.close()
        row = tracking.rows(db)["a"]
        assert (row["position"], row["updated_at"], row["last_error"]) == (42, "t1", None)
    finally:
        db.close()
