"""Follows: who follows whom (users and channels), newest first by log position, and the
follower / following counts of each user (channel counts live on `channels`)."""

from __future__ import annotations

from collections.abc import Sequence

from infra.database import Tx
from infra.envelope import EventEnvelope
from projections.base import Projection

FOLLOW_TYPES = ("Follow.Followed", "Follow.Unfollowed", "Follow.Refollowed")


def follow_delta(e: EventEnvelope) -> int:
    """+1 for a follow, -1 for an unfollow: each event is a real change of state."""
    return -1 if e.type == "Follow.Unfollowed" else 1


class Follows(Projection):
    """Rows per active follow and per-user counts; unfollow deletes the row."""

    name = "follows"
    types = FOLLOW_TYPES
    tables = ("follows", "user_follow_counts")
    ddl = [
        """CREATE TABLE IF NOT EXISTS follows (
            follower_id TEXT NOT NULL,
            target_kind TEXT NOT NULL,
            target_id TEXT NOT NULL,
            followed_at TEXT NOT NULL,
            position BIGINT NOT NULL,
            PRIMARY KEY (follower_id, target_kind, target_id)
        )""",
        "CREATE INDEX IF NOT EXISTS follows_target ON follows (target_kind, target_id, position)",
        "CREATE INDEX IF NOT EXISTS follows_follower ON follows (follower_id, target_kind, "
        "position)",
        """CREATE TABLE IF NOT EXISTS user_follow_counts (
            user_id TEXT PRIMARY KEY,
            follower_count BIGINT NOT NULL DEFAULT 0,
            following_count BIGINT NOT NULL DEFAULT 0
        )""",
    ]

    def _count(self, tx: Tx, user_id: str, column: str, delta: int) -> None:
        tx.execute(
            f"INSERT INTO user_follow_counts (user_id, {column}) VALUES (?, ?) "
            f"ON CONFLICT (user_id) DO UPDATE SET {column} = "
            f"user_follow_counts.{column} + excluded.{column}", (user_id, delta))

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            d = e.data
            key = (d["follower_id"], d["target_kind"], d["target_id"])
            if e.type == "Follow.Unfollowed":
                tx.execute("DELETE FROM follows WHERE follower_id = ? AND target_kind = ? "
                           "AND target_id = ?", key)
            else:
                tx.execute(
                    "INSERT INTO follows (follower_id, target_kind, target_id, followed_at, "
                    "position) VALUES (?, ?, ?, ?, ?) ON CONFLICT (follower_id, target_kind, "
                    "target_id) DO UPDATE SET followed_at = excluded.followed_at, "
                    "position = excluded.position", (*key, e.timestamp, e.position))
            delta = follow_delta(e)
            if d["target_kind"] == "user":
                self._count(tx, d["target_id"], "follower_count", delta)
            self._count(tx, d["follower_id"], "following_count", delta)
