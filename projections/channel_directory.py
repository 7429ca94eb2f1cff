"""Channel directory: what the home page's "live now" and channel browsing list, in their
order (live channels by current viewers, then by followers), filtered by category, tag and
name. Every row comes from the events themselves (no other read model's tables), so a
rebuild gives the same directory; the items are presented by channel_page's view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.base import Projection
from projections.categories import category_key
from projections.channel_page import channel_views
from projections.follows import FOLLOW_TYPES, follow_delta
from projections.keyset import after_key, decode_cursor, keyset_page, order_by
from projections.ports import Database, EventEnvelope, Tx

# Live first, by viewers, then everything by followers; the id makes each key unique.
ORDER = (("d.is_live", True), ("d.viewer_count", True), ("d.follower_count", True),
         ("d.channel_id", False))
CURSOR_KINDS = (int, int, int, str)


def search_text(slug: str, name: str) -> str:
    """What `q` matches, case-insensitively: the slug and the name."""
    return f"{slug}\n{name}".lower()


def like_pattern(q: str) -> str:
    """A LIKE pattern finding `q` anywhere, its own `%`, `_` and `\\` taken literally."""
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ChannelDirectory(Projection):
    """One row per channel: its sort key, what it is filtered by, and its tags."""

    name = "channel_directory"
    types = ("Channel.Created", "Channel.Updated", *FOLLOW_TYPES, "Stream.Started",
             "Stream.Ended", "Stream.ViewerCountSampled")
    tables = ("channel_directory", "channel_directory_tags")
    ddl = [
        """CREATE TABLE IF NOT EXISTS channel_directory (
            channel_id TEXT PRIMARY KEY,
            slug TEXT NOT NULL,
            search TEXT NOT NULL,
            category TEXT NOT NULL,
            is_public INTEGER NOT NULL,
            is_live INTEGER NOT NULL DEFAULT 0,
            stream_id TEXT,
            viewer_count BIGINT NOT NULL DEFAULT 0,
            follower_count BIGINT NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX IF NOT EXISTS channel_directory_order ON channel_directory "
        "(is_live, viewer_count, follower_count, channel_id)",
        "CREATE INDEX IF NOT EXISTS channel_directory_category ON channel_directory "
        "(category, is_live, viewer_count, follower_count)",
        """CREATE TABLE IF NOT EXISTS channel_directory_tags (
            tag TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            PRIMARY KEY (tag, channel_id)
        )""",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            d, cid = e.data, e.aggregate_id
            if e.type == "Channel.Created":
                tx.execute(
                    "INSERT INTO channel_directory (channel_id, slug, search, category, "
                    "is_public) VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id) DO NOTHING",
                    (cid, d["slug"], search_text(d["slug"], d["name"]),
                     category_key(d["category"]), int(d["is_public"])))
                self._tags(tx, cid, d["tags"])
            elif e.type == "Channel.Updated":
                self._update(tx, cid, d)
            elif e.type in FOLLOW_TYPES:
                if d["target_kind"] == "channel":
                    tx.execute("UPDATE channel_directory SET follower_count = follower_count "
                               "+ ? WHERE channel_id = ?", (follow_delta(e), d["target_id"]))
            elif e.type == "Stream.Started":
                tx.execute("UPDATE channel_directory SET is_live = 1, stream_id = ?, "
                           "viewer_count = 0 WHERE channel_id = ?", (cid, d["channel_id"]))
            elif e.type == "Stream.Ended":
                tx.execute("UPDATE channel_directory SET is_live = 0, stream_id = NULL, "
                           "viewer_count = 0 WHERE channel_id = ? AND stream_id = ?",
                           (d["channel_id"], cid))
            elif e.type == "Stream.ViewerCountSampled":
                tx.execute("UPDATE channel_directory SET viewer_count = ? "
                           "WHERE channel_id = ? AND stream_id = ?",
                           (int(d["count"]), d["channel_id"], cid))

    def _update(self, tx: Tx, cid: str, d: dict[str, Any]) -> None:
        sets: dict[str, Any] = {}
        if d.get("name") is not None:
            row = tx.fetch_one("SELECT slug FROM channel_directory WHERE channel_id = ?",
                               (cid,))
            if row is not None:
                sets["search"] = search_text(row["slug"], d["name"])
        if d.get("category") is not None:
            sets["category"] = category_key(d["category"])
        if d.get("is_public") is not None:
            sets["is_public"] = int(d["is_public"])
        if sets:
            tx.execute(f"UPDATE channel_directory SET {', '.join(f'{c} = ?' for c in sets)} "
                       "WHERE channel_id = ?", (*sets.values(), cid))
        if d.get("tags") is not None:
            tx.execute("DELETE FROM channel_directory_tags WHERE channel_id = ?", (cid,))
            self._tags(tx, cid, d["tags"])

    @staticmethod
    def _tags(tx: Tx, cid: str, tags: list[str]) -> None:
        tx.executemany("INSERT INTO channel_directory_tags (tag, channel_id) VALUES (?, ?) "
                       "ON CONFLICT (tag, channel_id) DO NOTHING", [(t, cid) for t in tags])


def list_channels(db: Database, *, live: bool | None = None, category: str | None = None,
                  tag: str | None = None, q: str | None = None, cursor: str | None = None,
                  limit: int = 20, stream_url: str | None = None,
                  ) -> tuple[list[dict[str, Any]], str | None]:
    """Public channels in directory order, as channel pages (`stream_url` as there); the
    cursor is opaque."""
    where, params = ["d.is_public = 1"], []
    if live is not None:
        where.append("d.is_live = ?")
        params.append(int(live))
    if category and category.strip():
        where.append("d.category = ?")
        params.append(category_key(category))
    if tag:
        # Tags are stored as channels clean them: trimmed, lower case.
        where.append("EXISTS (SELECT 1 FROM channel_directory_tags t "
                     "WHERE t.tag = ? AND t.channel_id = d.channel_id)")
        params.append(tag.strip().lower())
    if q and q.strip():
        where.append("d.search LIKE ? ESCAPE '\\'")
        params.append(like_pattern(q.strip()))
    if cursor is not None:
        condition, key_params = after_key(ORDER, decode_cursor(cursor, CURSOR_KINDS))
        where.append(condition)
        params.extend(key_params)
    rows = db.fetch_all(
        "SELECT d.channel_id, d.is_live, d.viewer_count, d.follower_count "
        f"FROM channel_directory d WHERE {' AND '.join(where)} {order_by(ORDER)} LIMIT ?",
        (*params, limit + 1))
    rows, next_cursor = keyset_page(rows, limit, lambda r: (
        int(r["is_live"]), int(r["viewer_count"]), int(r["follower_count"]), r["channel_id"]))
    return channel_views(db, [r["channel_id"] for r in rows], stream_url=stream_url), next_cursor
