"""Categories: every category public channels are in, with how many channels it holds, how
many of them are live and how many viewers those have, the most watched first.

Categories are what channels name (`just-chatting` by default), so the list is built from
the channels; a live channel counts under its stream's category (a stream prepared under
another category than the channel's is found under the stream's). Each channel's part is
kept beside the totals, and a change moves exactly that part from the old totals to the
new ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.base import Projection
from projections.keyset import after_key, decode_cursor, keyset_page, order_by
from projections.ports import Database, EventEnvelope, Tx

ORDER = (("viewer_count", True), ("live_count", True), ("channel_count", True),
         ("name", False))
CURSOR_KINDS = (int, int, int, str)


class Categories(Projection):
    name = "categories"
    types = ("Channel.Created", "Channel.Updated", "Stream.Created", "Stream.Started",
             "Stream.Ended", "Stream.ViewerCountSampled")
    tables = ("categories", "category_channels", "category_streams")
    ddl = [
        """CREATE TABLE IF NOT EXISTS categories (
            name TEXT PRIMARY KEY,
            channel_count BIGINT NOT NULL DEFAULT 0,
            live_count BIGINT NOT NULL DEFAULT 0,
            viewer_count BIGINT NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX IF NOT EXISTS categories_order ON categories "
        "(viewer_count, live_count, channel_count, name)",
        # Each channel's part of its category's totals.
        """CREATE TABLE IF NOT EXISTS category_channels (
            channel_id TEXT PRIMARY KEY,
            category TEXT NOT NULL,
            is_public INTEGER NOT NULL,
            stream_id TEXT,
            live_category TEXT,
            viewer_count BIGINT NOT NULL DEFAULT 0
        )""",
        # Each stream's own category (null: the channel's, whatever it is then).
        """CREATE TABLE IF NOT EXISTS category_streams (
            stream_id TEXT PRIMARY KEY,
            category TEXT
        )""",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            d, aid = e.data, e.aggregate_id
            if e.type == "Channel.Created":
                if tx.fetch_one("SELECT 1 AS x FROM category_channels WHERE channel_id = ?",
                                (aid,)) is not None:
                    continue
                new = {"channel_id": aid, "category": category_key(d["category"]),
                       "is_public": int(d["is_public"]), "stream_id": None,
                       "live_category": None, "viewer_count": 0}
                tx.execute("INSERT INTO category_channels (channel_id, category, is_public, "
                           "stream_id, live_category, viewer_count) VALUES (?, ?, ?, ?, ?, ?)",
                           (aid, new["category"], new["is_public"], None, None, 0))
                _count(tx, new, 1)
                continue
            if e.type == "Stream.Created":
                category = d.get("category")
                tx.execute("INSERT INTO category_streams (stream_id, category) VALUES (?, ?) "
                           "ON CONFLICT (stream_id) DO NOTHING",
                           (aid, category_key(category) if category else None))
                continue
            cid = aid if e.type == "Channel.Updated" else d["channel_id"]
            old = tx.fetch_one("SELECT channel_id, category, is_public, stream_id, "
                               "live_category, viewer_count FROM category_channels "
                               "WHERE channel_id = ?", (cid,))
            if old is None:
                continue
            new = dict(old)
            if e.type == "Channel.Updated":
                if d.get("category") is not None:
                    new["category"] = category_key(d["category"])
                if d.get("is_public") is not None:
                    new["is_public"] = int(d["is_public"])
            elif e.type == "Stream.Started":
                row = tx.fetch_one("SELECT category FROM category_streams WHERE stream_id = ?",
                                   (aid,))
                new.update(stream_id=aid, viewer_count=0,
                           live_category=row["category"] if row else None)
            elif old["stream_id"] != aid:
                continue  # an earlier stream of the channel: not the live one
            elif e.type == "Stream.Ended":
                new.update(stream_id=None, live_category=None, viewer_count=0)
            else:
                new["viewer_count"] = int(d["count"])
            if new == old:
                continue
            _count(tx, old, -1)
            _count(tx, new, 1)
            tx.execute("UPDATE category_channels SET category = ?, is_public = ?, "
                       "stream_id = ?, live_category = ?, viewer_count = ? WHERE channel_id = ?",
                       (new["category"], new["is_public"], new["stream_id"],
                        new["live_category"], new["viewer_count"], cid))


def category_key(category: str) -> str:
    """Categories as channels clean them (trimmed, lower case), older events' too."""
    return category.strip().lower()


def _add(tx: Tx, name: str, channels: int, live: int, viewers: int) -> None:
    tx.execute(
        "INSERT INTO categories (name, channel_count, live_count, viewer_count) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "channel_count = categories.channel_count + excluded.channel_count, "
        "live_count = categories.live_count + excluded.live_count, "
        "viewer_count = categories.viewer_count + excluded.viewer_count",
        (name, channels, live, viewers))


def _count(tx: Tx, part: dict[str, Any], sign: int) -> None:
    """Adds (sign 1) or takes away (sign -1) a channel's part of the totals: the channel
    under its category, its live stream (and viewers) under the stream's; a private
    channel has no part."""
    if not part["is_public"]:
        return
    _add(tx, part["category"], sign, 0, 0)
    if part["stream_id"] is not None:
        _add(tx, part["live_category"] or part["category"], 0, sign,
             sign * int(part["viewer_count"]))


def category_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "channelCount": int(row["channel_count"]),
            "liveCount": int(row["live_count"]), "viewerCount": int(row["viewer_count"])}


def list_categories(db: Database, *, cursor: str | None = None, limit: int = 20,
                    ) -> tuple[list[dict[str, Any]], str | None]:
    """Categories holding a public channel, the most watched first, then the most live,
    then the biggest, then by name."""
    where, params = ["channel_count > 0"], []
    if cursor is not None:
        condition, params = after_key(ORDER, decode_cursor(cursor, CURSOR_KINDS))
        where.append(condition)
    rows = db.fetch_all(
        f"SELECT name, channel_count, live_count, viewer_count FROM categories "
        f"WHERE {' AND '.join(where)} {order_by(ORDER)} LIMIT ?", (*params, limit + 1))
    rows, next_cursor = keyset_page(rows, limit, lambda r: (
        int(r["viewer_count"]), int(r["live_count"]), int(r["channel_count"]), r["name"]))
    return [category_view(r) for r in rows], next_cursor
