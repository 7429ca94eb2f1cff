"""Profile rows for the users read model: the fields beyond who someone is
(banner, social links, preferences, onboarding, deletion), and the profile events' effect
on the `users` table. Applied by the `users` projection, in log order."""

from __future__ import annotations

from typing import Any

from projections.base import dumps, loads
from projections.ports import Database, EventEnvelope, Tx

PROFILE_TYPES = ("User.ProfileUpdated", "User.UsernameChanged", "User.EmailChanged",
                 "User.Onboarded", "User.Deleted", "User.ExternalIdentityLinked")

PROFILE_DDL = [
    """CREATE TABLE IF NOT EXISTS user_profiles (
        id TEXT PRIMARY KEY,
        banner TEXT,
        social_links TEXT NOT NULL DEFAULT '{}',
        notification_email TEXT,
        theme TEXT NOT NULL DEFAULT 'dark',
        language TEXT NOT NULL DEFAULT 'en',
        onboarded INTEGER NOT NULL DEFAULT 1,
        deleted INTEGER NOT NULL DEFAULT 0
    )""",
]

_ON_USERS = {"display_name": "display_name", "avatar": "avatar", "bio": "bio"}
_ON_PROFILES = {"banner": "banner", "notification_email": "notification_email",
                "theme": "theme", "language": "language"}


def _update(tx: Tx, table: str, sets: dict[str, Any], user_id: str) -> None:
    if sets:
        assignments = ", ".join(f"{column} = ?" for column in sets)
        tx.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*sets.values(), user_id))


def apply_profile_event(tx: Tx, e: EventEnvelope) -> None:
    d, uid, ts = e.data, e.aggregate_id, e.timestamp
    if e.type == "User.ProfileUpdated":
        on_users: dict[str, Any] = {c: d[f] or None for f, c in _ON_USERS.items()
                                    if d.get(f) is not None}
        on_profiles: dict[str, Any] = {c: d[f] or None for f, c in _ON_PROFILES.items()
                                       if d.get(f) is not None}
        if d.get("social_links") is not None:
            on_profiles["social_links"] = dumps(d["social_links"])
        _update(tx, "users", {**on_users, "updated_at": ts}, uid)
        _update(tx, "user_profiles", on_profiles, uid)
    elif e.type == "User.UsernameChanged":
        _update(tx, "users", {"username": d["username"], "updated_at": ts}, uid)
    elif e.type == "User.EmailChanged":
        _update(tx, "users", {"email": d["email"], "updated_at": ts}, uid)
    elif e.type == "User.ExternalIdentityLinked" and d.get("provisional"):
        _update(tx, "user_profiles", {"onboarded": 0}, uid)
    elif e.type == "User.Onboarded":
        sets: dict[str, Any] = {"username": d["username"], "display_name": d["display_name"],
                                "updated_at": ts}
        if d.get("avatar"):
            sets["avatar"] = d["avatar"]
        if d.get("bio"):
            sets["bio"] = d["bio"]
        _update(tx, "users", sets, uid)
        _update(tx, "user_profiles", {"onboarded": 1}, uid)
    elif e.type == "User.Deleted":
        # The username is free again: the row keeps a placeholder so the name can be reused.
        _update(tx, "users", {"username": f"~deleted~{uid}", "email": "", "avatar": None,
                              "bio": None, "updated_at": ts}, uid)
        _update(tx, "user_profiles", {"deleted": 1, "notification_email": None}, uid)


def profile_view(row: dict[str, Any], *, private: bool) -> dict[str, Any]:
    """A user joined with their profile and follow counts, as clients see it."""
    view: dict[str, Any] = {
        "id": row["id"],
        "username": row["username"],
        "displayName": row["display_name"],
        "avatar": row.get("avatar"),
        "banner": row.get("banner"),
        "bio": row.get("bio"),
        "socialLinks": loads(row.get("social_links")) or {},
        "followerCount": int(row.get("follower_count") or 0),
        "followingCount": int(row.get("following_count") or 0),
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }
    if private:
        view.update({
            "email": row["email"] or None,
            "notificationEmail": row.get("notification_email"),
            "theme": row.get("theme") or "dark",
            "language": row.get("language") or "en",
            "onboarded": bool(row.get("onboarded", 1)),
        })
    return view


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
