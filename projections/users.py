"""Users: public profiles by id and username (emails only for their owners)."""

from __future__ import annotations

from collections.abc import Sequence

from infra.bus import LiveUpdate
from infra.database import Tx
from infra.envelope import EventEnvelope
from projections.base import Projection


class Users(Projection):
    name = "users"
    types = ("User.Registered",)
    tables = ("users",)
    ddl = [
        """CREATE TABLE IF NOT EXISTS users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            username TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            avatar TEXT,
            bio TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> list[LiveUpdate]:
        rows = [
            (e.aggregate_id, e.data["email"], e.data["username"], e.data["display_name"],
             e.timestamp, e.timestamp)
            for e in events if e.type == "User.Registered"
        ]
        tx.executemany(
            "INSERT INTO users (id, email, username, display_name, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", rows)
        return []
