"""Channel page: what a channel's public page shows (its live state comes from
stream_status, its owner from users)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.base import Projection, dumps, loads
from projections.follows import FOLLOW_TYPES, follow_delta
from projections.ports import Database, EventEnvelope, Tx
from projections.stream_status import get_stream, prepared_stream_of

_UPDATABLE = {"name": "name", "description": "description", "category": "category",
              "tags": "tags", "is_public": "is_public"}


class ChannelPage(Projection):
    name = "channel_page"
    types = ("Channel.Created", "Channel.Updated", "Channel.ModeratorGranted",
             "Channel.ModeratorRevoked", *FOLLOW_TYPES, "Stream.ViewerCountSampled",
             "Channel.ImageChanged")
    tables = ("channels", "channel_moderators", "channel_stream_viewers", "channel_images")
    ddl = [
        """CREATE TABLE IF NOT EXISTS channels (
            id TEXT PRIMARY KEY,
            owner_id TEXT NOT NULL,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            description TEXT NOT NULL,
            category TEXT NOT NULL,
            tags TEXT NOT NULL,
            is_public INTEGER NOT NULL,
            follower_count BIGINT NOT NULL DEFAULT 0,
            view_count BIGINT NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS channels_owner ON channels (owner_id)",
        """CREATE TABLE IF NOT EXISTS channel_moderators (
            channel_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            granted_at TEXT NOT NULL,
            PRIMARY KEY (channel_id, user_id)
        )""",
        # Each stream's last sampled viewer count: the channel's views grow by every rise.
        """CREATE TABLE IF NOT EXISTS channel_stream_viewers (
            stream_id TEXT PRIMARY KEY,
            last_count BIGINT NOT NULL
        )""",
        # Avatar and banner: a table of their own, so a read model made before channels had
        # them needs no migration (its older events have none to fill in).
        """CREATE TABLE IF NOT EXISTS channel_images (
            channel_id TEXT PRIMARY KEY,
            avatar TEXT,
            banner TEXT
        )""",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            d, cid, ts = e.data, e.aggregate_id, e.timestamp
            if e.type == "Channel.Created":
                tx.execute(
                    "INSERT INTO channels (id, owner_id, slug, name, description, category, tags, "
                    "is_public, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    (cid, d["owner_id"], d["slug"], d["name"], d["description"], d["category"],
                     dumps(d["tags"]), int(d["is_public"]), ts, ts))
            elif e.type == "Channel.Updated":
                sets, params = ["updated_at = ?"], [ts]
                for field, column in _UPDATABLE.items():
                    value = d.get(field)
                    if value is not None:
                        sets.append(f"{column} = ?")
                        params.append(dumps(value) if field == "tags" else
                                      int(value) if field == "is_public" else value)
                tx.execute(f"UPDATE channels SET {', '.join(sets)} WHERE id = ?", (*params, cid))
            elif e.type == "Channel.ImageChanged":
                column = "avatar" if d["kind"] == "avatar" else "banner"
                tx.execute(f"INSERT INTO channel_images (channel_id, {column}) VALUES (?, ?) "
                           f"ON CONFLICT (channel_id) DO UPDATE SET {column} = excluded.{column}",
                           (cid, d["url"]))
                tx.execute("UPDATE channels SET updated_at = ? WHERE id = ?", (ts, cid))
            elif e.type == "Channel.ModeratorGranted":
                tx.execute("INSERT INTO channel_moderators (channel_id, user_id, granted_at) "
                           "VALUES (?, ?, ?) ON CONFLICT (channel_id, user_id) DO NOTHING",
                           (cid, d["user_id"], ts))
            elif e.type == "Channel.ModeratorRevoked":
                tx.execute("DELETE FROM channel_moderators WHERE channel_id = ? AND user_id = ?",
                           (cid, d["user_id"]))
            elif e.type in FOLLOW_TYPES and d["target_kind"] == "channel":
                # The channel's row exists: following loads the Channel, so it came first.
                tx.execute("UPDATE channels SET follower_count = follower_count + ? "
                           "WHERE id = ?", (follow_delta(e), d["target_id"]))
            elif e.type == "Stream.ViewerCountSampled":
                # Views: viewers arriving, as the samples saw them (from the events, so a
                # rebuild gives the same number).
                count, sid = int(d["count"]), e.aggregate_id
                row = tx.fetch_one("SELECT last_count FROM channel_stream_viewers "
                                   "WHERE stream_id = ?", (sid,))
                rise = count - (int(row["last_count"]) if row else 0)
                if rise > 0:
                    tx.execute("UPDATE channels SET view_count = view_count + ? WHERE id = ?",
                               (rise, d["channel_id"]))
                tx.execute("INSERT INTO channel_stream_viewers (stream_id, last_count) "
                           "VALUES (?, ?) ON CONFLICT (stream_id) DO UPDATE "
                           "SET last_count = excluded.last_count", (sid, count))


def channel_view(db: Database, row: dict[str, Any], *,
                 stream_url: str | None = None) -> dict[str, Any]:
    """A channel as clients see it, wherever it appears (its page, lists, the answers of
    the owner's changes), from a `_CHANNEL_SQL` row or one built alike; `stream_url` is the
    public ingest URL (settings), never the key."""
    current = get_stream(db, row["current_stream_id"]) if row.get("current_stream_id") else None
    prepared_id = prepared_stream_of(db, row["id"])
    prepared = get_stream(db, prepared_id) if prepared_id else None
    moderators = db.fetch_all(
        "SELECT user_id FROM channel_moderators WHERE channel_id = ? ORDER BY granted_at",
        (row["id"],),
    )
    tags = row["tags"]
    return {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "description": row["description"],
        "category": row["category"],
        "tags": tags if isinstance(tags, list) else loads(tags) or [],
        "isPublic": bool(row["is_public"]),
        "avatar": row.get("avatar"),
        "banner": row.get("banner"),
        "streamUrl": stream_url,
        "creator": {
            "id": row["owner_id"],
            "username": row.get("owner_username"),
            "displayName": row.get("owner_display_name"),
        },
        "followerCount": row["follower_count"],
        "viewCount": row["view_count"],
        "isLive": bool(row.get("is_live")),
        "viewerCount": row.get("viewer_count") or 0,
        "currentStream": current,
        "preparedStream": prepared,
        "moderatorIds": [m["user_id"] for m in moderators],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


_CHANNEL_SQL = (
    "SELECT c.*, s.is_live, s.current_stream_id, s.viewer_count, "
    "u.username AS owner_username, u.display_name AS owner_display_name, "
    "i.avatar, i.banner "
    "FROM channels c LEFT JOIN channel_status s ON s.channel_id = c.id "
    "LEFT JOIN users u ON u.id = c.owner_id "
    "LEFT JOIN channel_images i ON i.channel_id = c.id "
)


def get_channel_by_slug(db: Database, slug: str, *,
                        stream_url: str | None = None) -> dict[str, Any] | None:
    row = db.fetch_one(_CHANNEL_SQL + "WHERE c.slug = ?", (slug.lower(),))
    return channel_view(db, row, stream_url=stream_url) if row else None


def channel_row(db: Database, channel_id: str) -> dict[str, Any] | None:
    """The channel's row as `channel_view` takes it (None until the projector has it)."""
    return db.fetch_one(_CHANNEL_SQL + "WHERE c.id = ?", (channel_id,))


def channel_views(db: Database, ids: Sequence[str], *,
                  stream_url: str | None = None) -> list[dict[str, Any]]:
    """Channel pages for several ids, in the order given (ids it has not got are left out)."""
    if not ids:
        return []
    rows = db.fetch_all(_CHANNEL_SQL + f"WHERE c.id IN ({', '.join('?' * len(ids))})",
                        tuple(ids))
    by_id = {row["id"]: row for row in rows}
    return [channel_view(db, by_id[i], stream_url=stream_url) for i in ids if i in by_id]


def channels_of_owner(db: Database, owner_id: str, *,
                      stream_url: str | None = None) -> list[dict[str, Any]]:
    """Every channel a user owns, public or not, oldest first (their dashboard's list)."""
    rows = db.fetch_all(_CHANNEL_SQL + "WHERE c.owner_id = ? ORDER BY c.created_at, c.id",
                        (owner_id,))
    return [channel_view(db, row, stream_url=stream_url) for row in rows]
