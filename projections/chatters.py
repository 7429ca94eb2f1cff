"""Who is here, as the chat's user list shows it: the users presence says are in a room,
named from `users` and badged from `channels`, `channel_moderators` and `subscriptions`
the way their messages are (commands/send_message.py), the staff first. A query over
those read models' rows; presence itself is not a read model (it lives in Redis)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from projections.keyset import decode_cursor, encode_cursor
from projections.ports import Database

# The order of the list: the broadcaster, moderators, subscribers, everyone else.
_RANK = {"broadcaster": 0, "moderator": 1, "subscriber": 2}
CURSOR_KINDS = (int, str, str)
_CHUNK = 500  # ids per IN (...) list


def _in(column: str, count: int) -> str:
    return f"{column} IN ({', '.join('?' * count)})"


def chatter_views(db: Database, channel_id: str, user_ids: Sequence[str],
                  ) -> list[dict[str, Any]]:
    """Each user (in the order given) with names, avatar and badges in this channel; a
    user the users read model has not got yet has null names."""
    channel = db.fetch_one("SELECT owner_id FROM channels WHERE id = ?", (channel_id,))
    owner = channel["owner_id"] if channel else None
    users: dict[str, dict[str, Any]] = {}
    moderators: set[str] = set()
    subscribers: set[str] = set()
    now = datetime.now(UTC).isoformat()
    for i in range(0, len(user_ids), _CHUNK):
        chunk = tuple(user_ids[i:i + _CHUNK])
        for row in db.fetch_all("SELECT id, username, display_name, avatar FROM users "
                                f"WHERE {_in('id', len(chunk))}", chunk):
            users[row["id"]] = row
        moderators.update(r["user_id"] for r in db.fetch_all(
            f"SELECT user_id FROM channel_moderators WHERE channel_id = ? AND "
            f"{_in('user_id', len(chunk))}", (channel_id, *chunk)))
        # A cancelled subscription runs to its renewal date; an expired one is over
        # (renewal dates are UTC ISO text, so the text compares as the time).
        subscribers.update(r["user_id"] for r in db.fetch_all(
            "SELECT user_id FROM subscriptions WHERE channel_id = ? AND status IN "
            f"('ACTIVE', 'CANCELLED') AND renewal_date > ? AND {_in('user_id', len(chunk))}",
            (channel_id, now, *chunk)))
    views = []
    for uid in user_ids:
        row = users.get(uid) or {}
        badges = (["broadcaster"] if uid == owner else
                  ["moderator"] if uid in moderators else [])
        if uid in subscribers:
            badges.append("subscriber")
        views.append({"id": uid, "username": row.get("username"),
                      "displayName": row.get("display_name"), "avatar": row.get("avatar"),
                      "badges": badges})
    return views


def _key(view: dict[str, Any]) -> tuple[int, str, str]:
    rank = min((_RANK[b] for b in view["badges"]), default=len(_RANK))
    return rank, (view["username"] or "").lower(), view["id"]


def chatters_page(db: Database, stream_id: str, user_ids: Sequence[str], *,
                  cursor: str | None = None, limit: int = 50,
                  ) -> tuple[list[dict[str, Any]], str | None] | None:
    """A page of the room's users in list order, and the next page's cursor; None when
    the stream is unknown."""
    after = decode_cursor(cursor, CURSOR_KINDS) if cursor is not None else None
    stream = db.fetch_one("SELECT channel_id FROM streams WHERE id = ?", (stream_id,))
    if stream is None:
        return None
    if not user_ids:
        return [], None  # a room of anonymous viewers: nothing more to read
    # Presence holds no names, so the whole room is read and sorted: rooms are hundreds,
    # not millions, of signed-in viewers.
    ordered = sorted(chatter_views(db, stream["channel_id"], user_ids), key=_key)
    if after is not None:
        ordered = [v for v in ordered if _key(v) > after]
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, (encode_cursor(_key(page[-1])) if more and page else None)
