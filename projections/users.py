"""Users: public profiles by id and username (emails only for their owners)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from projections.base import Projection
from projections.ports import EventEnvelope, Tx
from projections.profiles import PROFILE_DDL, PROFILE_TYPES, apply_profile_event


class Users(Projection):
    name = "users"
    types = ("User.Registered", *PROFILE_TYPES)
    tables = ("users", "user_profiles")
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
        *PROFILE_DDL,
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        # In log order: a username freed by one event may be taken by the next registration.
        for registered, run in groupby(events, key=lambda e: e.type == "User.Registered"):
            if not registered:
                for e in run:
                    apply_profile_event(tx, e)
                continue
            rows = [
                (e.aggregate_id, e.data["email"], e.data["username"], e.data["display_name"],
                 e.timestamp, e.timestamp)
                for e in run
            ]
            tx.executemany(
                "INSERT INTO users (id, email, username, display_name, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", rows)
            tx.executemany(
                "INSERT INTO user_profiles (id) VALUES (?) ON CONFLICT (id) DO NOTHING",
                [(r[0],) for r in rows])
