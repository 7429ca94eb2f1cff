"""Ignores: whom each user ignores, to hide those users' messages from their view."""

from __future__ import annotations

from collections.abc import Sequence

from projections.base import Projection
from projections.ports import Database, EventEnvelope, Tx

IGNORE_TYPES = ("Ignore.Started", "Ignore.Stopped", "Ignore.Restarted")


class Ignores(Projection):
    """A row per active ignore; stopping deletes it."""

    name = "ignores"
    types = IGNORE_TYPES
    tables = ("user_ignores",)
    ddl = [
        """CREATE TABLE IF NOT EXISTS user_ignores (
            user_id TEXT NOT NULL,
            ignored_id TEXT NOT NULL,
            since TEXT NOT NULL,
            position BIGINT NOT NULL,
            PRIMARY KEY (user_id, ignored_id)
        )""",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            key = (e.data["user_id"], e.data["ignored_id"])
            if e.type == "Ignore.Stopped":
                tx.execute("DELETE FROM user_ignores WHERE user_id = ? AND ignored_id = ?", key)
            else:
                tx.execute("INSERT INTO user_ignores (user_id, ignored_id, since, position) "
                           "VALUES (?, ?, ?, ?) ON CONFLICT (user_id, ignored_id) DO UPDATE "
                           "SET since = excluded.since, position = excluded.position",
                           (*key, e.timestamp, e.position))
        # Live changes are pushed by the API when the command commits (read_api/ignores.py).


def ignored_ids(db: Database, user_id: str) -> list[str]:
    """Whom the user ignores (their messages are hidden from the user's view)."""
    return [r["ignored_id"] for r in db.fetch_all(
        "SELECT ignored_id FROM user_ignores WHERE user_id = ? ORDER BY position", (user_id,))]
