"""Read-model queries for profiles, follows and subscriptions: plain SQL over the
users, follows and subscriptions projections."""

from __future__ import annotations

from typing import Any

from domain.errors import Invalid
from infra.database import Database
from projections.profiles import profile_view
from projections.subscriptions import subscription_view

_USER_SQL = (
    "SELECT u.*, p.banner, p.social_links, p.notification_email, p.theme, p.language, "
    "p.onboarded, p.deleted, c.follower_count, c.following_count FROM users u "
    "LEFT JOIN user_profiles p ON p.id = u.id "
    "LEFT JOIN user_follow_counts c ON c.user_id = u.id WHERE u.id = ?"
)


def get_profile(db: Database, user_id: str, *, private: bool = False) -> dict[str, Any] | None:
    row = db.fetch_one(_USER_SQL, (user_id,))
    if row is None or row.get("deleted"):
        return None
    return profile_view(row, private=private)


def page_limit(limit: int) -> int:
    if not 1 <= limit <= 100:
        raise Invalid("limit must be 1-100", field="limit")
    return limit


def _page(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], int | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (int(rows[-1]["position"]) if more and rows else None)


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
    rows, next_cursor = _page(
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
    rows, next_cursor = _page(
        db.fetch_all(sql + " ORDER BY f.position DESC LIMIT ?", (*params, limit + 1)), limit)
    if target_kind == "user":
        items = [{"id": r["target_id"], "username": r["name"], "displayName": r["title"],
                  "avatar": r["avatar"], "followedAt": r["followed_at"]} for r in rows]
    else:
        items = [{"id": r["target_id"], "slug": r["name"], "name": r["title"],
                  "followedAt": r["followed_at"]} for r in rows]
    return items, next_cursor


def list_subscriptions(db: Database, user_id: str) -> list[dict[str, Any]]:
    rows = db.fetch_all("SELECT * FROM subscriptions WHERE user_id = ? ORDER BY start_date DESC",
                        (user_id,))
    return [subscription_view(r) for r in rows]
