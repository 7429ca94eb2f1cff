"""Streams: go live, change status, end, read, and the stream's chat."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from commands.bus import CommandBus
from commands.change_stream_status import ChangeStreamStatus
from commands.end_stream import EndStream
from commands.go_live import GoLive
from commands.send_message import Author, SendMessage
from domain.errors import DomainError, NotFound
from domain.stream import Stream
from infra.identity.auth import Principal
from infra.shared_state.rate_limit import ChatRateLimiter
from projections.chat_history import list_messages
from projections.stream_status import get_stream
from read_api.deps import parse_id, provide_principal
from read_api.http_cache import LIVE
from read_api.ignores import hide_ignored, provide_viewer
from read_api.paging import Before, Cursor, Limit, page_cursor
from read_api.reads import ReadModels
from read_api.realtime.presenters import sent_view
from read_api.realtime.recent import RecentMessages, newest_page
from read_api.schemas import GoLiveBody, SendMessageBody, StatusBody

auth = {"principal": Provide(provide_principal)}


def stream_state(stream: Stream, position: int) -> dict[str, Any]:
    """The stream as the command left it (the read model follows within milliseconds)."""
    return {
        "id": str(stream.id),
        "channelId": str(stream.channel_id),
        "title": stream.title,
        "status": stream.status.value,
        "startTime": stream.started_at.isoformat() if stream.started_at else None,
        "endTime": stream.ended_at.isoformat() if stream.ended_at else None,
        "position": position,
    }


class StreamController(Controller):
    path = "/api/streams"
    tags = ["streams"]

    @post("/{channel_id:str}/start", status_code=201, dependencies=auth)
    async def start(
        self,
        channel_id: FromPath[str],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
        data: JSONBody[GoLiveBody | None] = None,
    ) -> dict[str, Any]:
        """Goes live on the channel (owner only; one live stream per channel)."""
        result = await commands.execute(GoLive(
            actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
            title=data.title if data else None))
        return stream_state(result.stream, result.position)

    @put("/{stream_id:str}/status", dependencies=auth)
    async def change_status(
        self,
        stream_id: FromPath[str],
        data: JSONBody[StatusBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> dict[str, Any]:
        """Moves the stream one step along OFFLINE, LIVE, ENDING, ARCHIVED (owner only)."""
        result = await commands.execute(ChangeStreamStatus(
            actor_id=principal.user_id, stream_id=parse_id(stream_id, "stream"),
            status=data.status))
        return stream_state(result.stream, result.position)

    @post("/{stream_id:str}/end", status_code=200, dependencies=auth)
    async def end(
        self,
        stream_id: FromPath[str],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> dict[str, Any]:
        """Ends a live stream (owner only)."""
        result = await commands.execute(
            EndStream(actor_id=principal.user_id, stream_id=parse_id(stream_id, "stream")))
        return stream_state(result.stream, result.position)

    @get("/{stream_id:str}")
    async def read(
        self,
        stream_id: FromPath[str],
        reads: NamedDependency[ReadModels],
        after: FromQuery[int | None] = None,
    ) -> dict[str, Any]:
        """The stream's status, times, viewers and peak."""
        parse_id(stream_id, "stream")
        await reads.caught_up(("stream_status",), after)
        view = await reads.query(get_stream, stream_id)
        if view is None:
            raise NotFound(f"stream {stream_id!r} not found")
        return view

    @get("/{stream_id:str}/messages", dependencies={"viewer": Provide(provide_viewer)},
         opt=LIVE)
    async def messages(
        self,
        stream_id: FromPath[str],
        reads: NamedDependency[ReadModels],
        viewer: NamedDependency[Principal | None],
        request: Request[Any, Any, Any],
        cursor: Cursor = None,
        before: Before = None,
        limit: Limit = 50,
        after: FromQuery[int | None] = None,
    ) -> dict[str, Any]:
        """Chat history, newest first, deleted messages left out; pass `nextCursor` back
        as `cursor`."""
        parse_id(stream_id, "stream")
        page = page_cursor(cursor, before)
        await reads.caught_up(("chat_history", "stream_status"), after)
        if await reads.query(get_stream, stream_id) is None:
            raise NotFound(f"stream {stream_id!r} not found")
        items, next_cursor = await reads.query(list_messages, stream_id, before=page,
                                               limit=limit)
        if page is None:  # what this node has pushed is in the history, read model or not
            recent: RecentMessages = request.app.state.feed.recent
            items, next_cursor = newest_page(items, next_cursor is not None,
                                             recent.snapshot(stream_id), limit,
                                             recent.deleted())
        items = await hide_ignored(reads, viewer, items)  # ignored users
        return {"items": items, "nextCursor": next_cursor}

    @post("/{stream_id:str}/messages", status_code=201, dependencies=auth)
    async def send(
        self,
        stream_id: FromPath[str],
        data: JSONBody[SendMessageBody],
        principal: NamedDependency[Principal],
        rate_limiter: NamedDependency[ChatRateLimiter],
        commands: NamedDependency[CommandBus],
    ) -> dict[str, Any]:
        """Posts to the stream's chat (group-committed with concurrent senders)."""
        await rate_limiter.enforce(str(principal.user_id))
        result = await commands.execute(
            SendMessage(
                stream_id=parse_id(stream_id, "stream"),
                author=Author(
                    id=principal.user_id,
                    username=principal.username,
                    display_name=principal.display_name,
                ),
                content=data.content,
            )
        )
        if isinstance(result, DomainError):
            raise result
        return sent_view(result)
