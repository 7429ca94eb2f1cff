"""Who is here: the signed-in viewers present in a stream's chat, on every node."""

from __future__ import annotations

import msgspec


class Chatter(msgspec.Struct, rename="camel", kw_only=True):
    """A signed-in viewer in the room, with the badges their messages carry
    (`broadcaster`, `moderator`, `subscriber`)."""

    id: str
    username: str | None
    display_name: str | None
    avatar: str | None
    badges: list[str]


class ChatterList(msgspec.Struct, rename="camel", kw_only=True):
    """Chatters, the broadcaster first, then moderators, subscribers, everyone else, each
    by username; `count` is every signed-in viewer present (one per user, however many
    tabs), `anonymous` the connections of viewers not signed in."""

    stream_id: str
    items: list[Chatter]
    next_cursor: str | None
    count: int
    anonymous: int
