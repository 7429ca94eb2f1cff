"""Who is here: the signed-in viewers in a stream's chat, on every API node, with their
badges, and how many viewers are not signed in. The same list answers
`GET /api/streams/{id}/chatters` and makes the `chat:users` a socket gets on joining."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery

from domain.errors import NotFound
from infra.shared_state.presence import Presence
from projections.chatters import chatter_views, chatters_page
from read_api.deps import parse_id
from read_api.discovery import Limit, OpaqueCursor
from read_api.http_cache import LIVE
from read_api.openapi import problems
from read_api.reads import ReadModels
from read_api.views.chatters import ChatterList

# What names and badges chatters are read from.
CHATTER_READ_MODELS = ("stream_status", "users", "channel_page", "subscriptions")


class Roster:
    """Presence (who is connected, on every node) named and badged from the read models."""

    def __init__(self, presence: Presence, reads: ReadModels) -> None:
        self.presence = presence
        self.reads = reads

    async def page(self, stream_id: str, *, cursor: str | None = None,
                   limit: int = 50) -> dict[str, Any] | None:
        """A page of the room's chatters, with the counts; None for an unknown stream."""
        users = await self.presence.chatters(stream_id)
        anonymous = await self.presence.anonymous(stream_id)
        found = await self.reads.query(chatters_page, stream_id, users, cursor=cursor,
                                       limit=limit)
        if found is None:
            return None
        items, next_cursor = found
        return {"streamId": stream_id, "items": items, "nextCursor": next_cursor,
                "count": len(users), "anonymous": anonymous}

    async def chatter(self, channel_id: str, user_id: str) -> dict[str, Any]:
        """One user as the list shows them in this channel."""
        return (await self.reads.query(chatter_views, channel_id, [user_id]))[0]


def provide_roster(state: State) -> Roster:
    """The node's roster, the one its chat gateway uses (from the app's state, not the
    request: the list is the same whoever asks, so it may be cached as live data)."""
    return state.gateway.roster


class ChatterController(Controller):
    path = "/api/streams"
    tags = ["chat"]
    dependencies = {"roster": Provide(provide_roster, sync_to_thread=False)}

    @get("/{stream_id:str}/chatters", operation_id="listChatters", opt=LIVE,
         responses=problems(404, 422, 503))
    async def chatters(
        self,
        stream_id: FromPath[str],
        reads: NamedDependency[ReadModels],
        roster: NamedDependency[Roster],
        cursor: OpaqueCursor = None,
        limit: Limit = 50,
        after: FromQuery[int | None] = None,
    ) -> ChatterList:
        """Signed-in viewers in the stream's chat on every node, the broadcaster first,
        then moderators, subscribers and everyone else, each by username; with `count`
        (signed-in viewers, one per user) and `anonymous` (connections not signed in)."""
        parse_id(stream_id, "stream")
        await reads.caught_up(CHATTER_READ_MODELS, after)
        page = await roster.page(stream_id, cursor=cursor, limit=limit)
        if page is None:
            raise NotFound(f"stream {stream_id!r} not found")
        return page  # type: ignore[return-value]  # the dict that ChatterList describes
