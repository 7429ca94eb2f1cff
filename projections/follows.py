"""Follows: who follows whom (users and channels), newest first by log position, and the
follower / following counts of each user (channel counts live on `channels`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.base import Projection, page_of
from projections.ports import Database, EventEnvelope, Tx

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


def list_followers(db: Database, target_kind: str, target_id: str, *, cursor: int | None,
                   limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Users following a user or a channel, most recent first; cursor: a position."""
    sql = ("SELECT f.follower_id, f.followed_at, f.position, u.username, u.display_name, "
           "u.avatar FROM follows f LEFT JOIN users u ON u.id = f.follower_id "
           "WHERE f.target_kind = ? AND f.target_id = ?")
    params: list[Any] = [target_kind, target_id]
    if cursor is not None:
        sql += " AND f.position < ?"
        params.append(cursor)
    rows, next_cursor = page_of(
        db.fetch_all(sql + " ORDER BY f.position DESC LIMIT ?", (*params, limit + 1)), limit)
    return [{"id": r["follower_id"], "username": r["username"],
             "displayName": r["display_name"], "avatar": r["avatar"],
             "followedAt": r["followed_at"]} for r in rows], next_cursor


def list_following(db: Database, follower_id: str, target_kind: str, *, cursor: int | None,
                   limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Users or channels a user follows, most recent first."""
    if target_kind == "user":
        sql = ("SELECT f.target_id, f.followed_at, f.position, u.username AS name, "
               "u.display_name AS title, u.avatar FROM follows f "
               "LEFT JOIN users u ON u.id = f.target_id ")
    else:
        sql = ("SELECT f.target_id, f.followed_at, f.position, c.slug AS name, "
               "c.name AS title, NULL AS avatar FROM follows f "
               "LEFT JOIN channels c ON c.id = f.target_id ")
    sql += "WHERE f.follower_id = ? AND f.target_kind = ?"
    params: list[Any] = [follower_id, target_kind]
    if cursor is not None:
        sql += " AND f.position < ?"
        params.append(cursor)
    rows, next_cursor = page_of(
        db.fetch_all(sql + " ORDER BY f.position DESC LIMIT ?", (*params, limit + 1)), limit)
    if target_kind == "user":
        items = [{"id": r["target_id"], "username": r["name"], "displayName": r["title"],
                  "avatar": r["avatar"], "followedAt": r["followed_at"]} for r in rows]
    else:
        items = [{"id": r["target_id"], "slug": r["name"], "name": r["title"],
                  "followedAt": r["followed_at"]} for r in rows]
    return items, next_cursor


def followed_at(db: Database, follower_id: str, target_kind: str,
                target_id: str) -> str | None:
    """When `follower_id` followed the user or channel, or None when they do not."""
    row = db.fetch_one("SELECT followed_at FROM follows WHERE follower_id = ? AND "
                       "target_kind = ? AND target_id = ?", (follower_id, target_kind, target_id))
    return row["followed_at"] if row else None
