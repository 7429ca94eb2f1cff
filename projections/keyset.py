"""Keyset paging over compound orderings (viewers, then followers, then id): the cursor
is the sort key of a page's last item, encoded opaquely, and the next page starts strictly
after it. An item is never repeated or skipped by a walk while nothing changes, however
many items share a count."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import msgspec

from domain.errors import Invalid

Key = tuple[int | str, ...]
# (column, descending?) in ORDER BY order; the last column must be unique.
Order = Sequence[tuple[str, bool]]


def encode_cursor(key: Sequence[int | str]) -> str:
    """An opaque, URL-safe token for a sort key."""
    return base64.urlsafe_b64encode(msgspec.json.encode(list(key))).rstrip(b"=").decode()


def decode_cursor(token: str, kinds: Sequence[type]) -> Key:
    """The sort key a token holds, each part of the expected kind (`int` or `str`);
    anything else was not given by this API: `Invalid` naming `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        key = None
    if (not isinstance(key, list) or len(key) != len(kinds)
            or not all(type(part) is kind for part, kind in zip(key, kinds, strict=True))):
        raise Invalid("cursor is not one this list gave: pass `nextCursor` back as it is",
                      field="cursor")
    return tuple(key)


def after_key(order: Order, key: Key) -> tuple[str, list[Any]]:
    """A WHERE condition selecting the rows after `key` in `order` (columns may sort in
    different directions, so this is the expanded form of a row comparison)."""
    clauses: list[str] = []
    params: list[Any] = []
    for i, (column, descending) in enumerate(order):
        equal = [f"{c} = ?" for c, _ in order[:i]]
        clauses.append("(" + " AND ".join([*equal, f"{column} {'<' if descending else '>'} ?"])
                       + ")")
        params.extend([*key[:i], key[i]])
    return "(" + " OR ".join(clauses) + ")", params


def order_by(order: Order) -> str:
    return "ORDER BY " + ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d in order)


def keyset_page(rows: list[dict[str, Any]], limit: int, key_of: Any,
                ) -> tuple[list[dict[str, Any]], str | None]:
    """At most `limit` rows (`limit + 1` were read), and the cursor of the next page
    when there is one."""
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(key_of(rows[-1])) if more and rows else None)
