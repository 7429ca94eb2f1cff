"""Streams: prepare, go live, change status, end, read, where to play, and the stream's chat.

The plan's other names for these (`/api/stream/...`, `POST /api/messages`) are aliases in
read_api/stream_aliases.py and read_api/messages.py: they call the functions here, so an
alias answers and refuses exactly as its original does."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from commands.bus import CommandBus
from commands.change_stream_status import ChangeStreamStatus
from commands.chat_refusals import RefusalTally
from commands.create_stream import CreateStream
from commands.end_stream import EndStream
from commands.go_live import GoLive
from commands.send_message import Author, SendMessage
from domain.channel import Channel
from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from domain.stream import Stream, StreamStatus
from infra.identity.auth import Principal
from infra.settings import Settings
from infra.shared_state.rate_limit import ChatRateLimiter
from projections.chat_history import list_messages
from projections.stream_ingest import with_ingest
from projections.stream_status import get_stream, stream_view
from read_api.bots import acting_owner
from read_api.deps import bot_scope, parse_id, provide_principal
from read_api.http_cache import LIVE
from read_api.ignores import hide_ignored, provide_viewer
from read_api.ingest import quality_names
from read_api.openapi import BEARER, problems
from read_api.paging import Before, Cursor, Limit, page_cursor
from read_api.reads import Aggregates, ReadModels
from read_api.realtime.presenters import sent_view
from read_api.realtime.recent import RecentMessages, newest_page
from read_api.schemas import GoLiveBody, SendMessageBody, StatusBody, Text
from read_api.views.message import Message, MessagePage
from read_api.views.stream import Stream as StreamView
from read_api.views.stream import StreamChange, StreamPlayback

auth = {"principal": Provide(provide_principal)}


class CreateStreamBody(msgspec.Struct, rename="camel"):
    """A stream to prepare: OFFLINE until the owner starts it or an encoder publishes."""

    channel_id: Annotated[str, msgspec.Meta(max_length=64)]
    title: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    description: Text | None = None
    category: Annotated[str, msgspec.Meta(max_length=64)] | None = None  # None: the channel's


def body_id(value: str, field: str) -> UUID:
    """An id sent in a body: not a UUID is the client's mistake about that field (422)."""
    try:
        return parse_id(value, field)
    except NotFound:
        raise Invalid(f"{field} must be an id", field=field) from None


def _stream_row(stream: Stream) -> dict[str, Any]:
    """The aggregate as a `streams` row, so that `stream_view` presents it."""
    started, ended = stream.started_at, stream.ended_at
    return {
        "id": str(stream.id), "channel_id": str(stream.channel_id),
        "owner_id": str(stream.owner_id), "title": stream.title,
        "description": stream.description, "category": stream.category,
        "status": stream.status.value,
        "started_at": started.isoformat() if started else None,
        "ended_at": ended.isoformat() if ended else None,
        # As Stream.Ended computes it: a stream that never started lasted 0 seconds.
        "duration_s": max(0, int((ended - (started or ended)).total_seconds()))
        if ended else None,
        "viewer_count": stream.viewer_count if stream.is_live else 0,
        "peak_viewers": stream.peak_viewers, "recording_path": stream.recording_path,
        "vod_url": stream.vod_url, "thumbnail_url": stream.thumbnail_url,
        "created_at": stream.created_on.isoformat(),
        "updated_at": stream.modified_on.isoformat(),
    }


async def stream_state(reads: ReadModels, stream: Stream, position: int) -> dict[str, Any]:
    """The stream as the command left it, in the shape `GET /api/streams/{id}` answers:
    the aggregate's fields, the ingest's from the read model (which follows within
    milliseconds), the HLS URL from the aggregate while it is LIVE."""
    view = await reads.query(with_ingest, stream_view(_stream_row(stream)))
    if stream.is_live and stream.hls_url:
        view["hlsUrl"] = stream.hls_url
    return {**view, "position": position}


async def create_stream_session(data: CreateStreamBody, principal: Principal,
                                commands: CommandBus, reads: ReadModels) -> dict[str, Any]:
    """`POST /api/streams` and its alias `POST /api/stream/create`."""
    result = await commands.execute(CreateStream(
        actor_id=principal.user_id, channel_id=body_id(data.channel_id, "channelId"),
        title=data.title, description=data.description, category=data.category))
    return await stream_state(reads, result.stream, result.position)


async def end_stream_session(stream_id: UUID, principal: Principal, commands: CommandBus,
                             reads: ReadModels) -> dict[str, Any]:
    """`POST /api/streams/{id}/end` and its alias `POST /api/stream/end`."""
    result = await commands.execute(EndStream(actor_id=principal.user_id, stream_id=stream_id))
    return await stream_state(reads, result.stream, result.position)


async def read_stream(stream_id: str, reads: ReadModels, after: int | None) -> dict[str, Any]:
    """`GET /api/streams/{id}` and its alias `GET /api/stream/{id}`."""
    parse_id(stream_id, "stream")
    await reads.caught_up(("stream_status",), after)
    view = await reads.query(get_stream, stream_id)
    if view is None:
        raise NotFound(f"stream {stream_id!r} not found")
    return view


async def stream_playback(stream_id: str, reads: ReadModels, settings: Settings,
                          after: int | None) -> dict[str, Any]:
    """`GET /api/stream/{id}/hls` and its alias `GET /api/streams/{id}/hls`: 409 unless
    the stream is LIVE with a playlist (an encoder has published)."""
    view = await read_stream(stream_id, reads, after)
    if view["status"] != StreamStatus.LIVE.value:
        raise Conflict(f"the stream is {view['status']}, not LIVE: nothing to play",
                       field="status", code="stream_offline")
    if not view["hlsUrl"]:
        if (view.get("ingest") or {}).get("state") == "starting":
            raise Conflict("the stream is starting: the provider has the encoder, and the "
                           "playlist is offered once it is playable", field="status",
                           code="starting")
        raise Conflict("the stream is LIVE but no encoder has published to it yet",
                       field="status", code="no_playback")
    ingest = view.get("ingest") or {}
    return {"streamId": view["id"], "channelId": view["channelId"], "status": view["status"],
            "hlsUrl": view["hlsUrl"], "provider": ingest.get("provider"),
            "playbackId": ingest.get("playbackId"),
            "qualities": quality_names(settings)}


async def require_staff(aggregates: Aggregates, viewer: Principal | None,
                        channel_id: str) -> None:
    """Only the channel's owner and moderators see deleted messages."""
    if viewer is None:
        raise Unauthenticated("sign in as the channel's owner or a moderator",
                              field="includeDeleted")
    channel = await aggregates.get(UUID(channel_id), Channel)
    if not channel.may_moderate(viewer.user_id):
        raise Forbidden("only the channel's owner and moderators see deleted messages",
                        field="includeDeleted")


async def post_message(stream_id: UUID, content: str, principal: Principal,
                       rate_limiter: ChatRateLimiter, commands: CommandBus,
                       refusals: RefusalTally) -> dict[str, Any]:
    """`POST /api/streams/{id}/messages` and its alias `POST /api/messages`: rate limited,
    then group-committed with concurrent senders (whose refusals the writer counts)."""
    try:
        await rate_limiter.enforce(str(principal.user_id))
    except RateLimited:
        refusals.note(stream_id, RateLimited.code)
        raise
    result = await commands.execute(
        SendMessage(
            stream_id=stream_id,
            author=Author(
                id=principal.user_id,
                username=principal.username,
                display_name=principal.display_name,
                bot=principal.is_bot,
            ),
            content=content,
        )
    )
    if isinstance(result, DomainError):
        raise result
    return sent_view(result)


class StreamController(Controller):
    path = "/api/streams"
    tags = ["streams"]

    @post("/", status_code=201, dependencies=auth, operation_id="createStream",
          security=BEARER, responses=problems(403, 404, 409, 415, 422, auth=True))
    async def create(
        self,
        data: JSONBody[CreateStreamBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
        reads: NamedDependency[ReadModels],
    ) -> StreamChange:
        """Prepares a stream OFFLINE (owner only): the channel's next go-live, by
        `POST /api/streams/{channelId}/start` or an encoder's publish, starts this one. One
        prepared stream per channel, none while one is live (409); end it to discard it."""
        return await create_stream_session(data, principal, commands, reads)

    @post("/{channel_id:str}/start", status_code=201, dependencies=auth,
          opt=bot_scope("stream:manage"),
          operation_id="startStream", security=BEARER,
          responses=problems(403, 404, 409, 415, 422, auth=True))
    async def start(
        self,
        channel_id: FromPath[str],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
        reads: NamedDependency[ReadModels],
        aggregates: NamedDependency[Aggregates],
        data: JSONBody[GoLiveBody | None] = None,
    ) -> StreamChange:
        """Goes live on the channel (owner only; one live stream per channel): starts the
        prepared stream with the details it was prepared with, else a new one (`title`)."""
        cid = parse_id(channel_id, "channel")
        principal = await acting_owner(principal, aggregates, channel_id=cid)
        result = await commands.execute(GoLive(
            actor_id=principal.user_id, channel_id=cid,
            title=data.title if data else None))
        return await stream_state(reads, result.stream, result.position)

    @put("/{stream_id:str}/status", dependencies=auth, operation_id="changeStreamStatus",
         security=BEARER, responses=problems(403, 404, 409, 415, 422, auth=True))
    async def change_status(
        self,
        stream_id: FromPath[str],
        data: JSONBody[StatusBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
        reads: NamedDependency[ReadModels],
    ) -> StreamChange:
        """Moves the stream one step along OFFLINE, LIVE, ENDING, ARCHIVED (owner only)."""
        result = await commands.execute(ChangeStreamStatus(
            actor_id=principal.user_id, stream_id=parse_id(stream_id, "stream"),
            status=data.status))
        return await stream_state(reads, result.stream, result.position)

    @post("/{stream_id:str}/end", status_code=200, dependencies=auth,
          opt=bot_scope("stream:manage"), operation_id="endStream",
          security=BEARER, responses=problems(403, 404, 409, auth=True))
    async def end(
        self,
        stream_id: FromPath[str],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
        reads: NamedDependency[ReadModels],
        aggregates: NamedDependency[Aggregates],
    ) -> StreamChange:
        """Ends a live stream (LIVE -> ENDING), or discards a prepared one that never went
        live (OFFLINE -> ARCHIVED) (owner only)."""
        sid = parse_id(stream_id, "stream")
        principal = await acting_owner(principal, aggregates, stream_id=sid)
        return await end_stream_session(sid, principal, commands, reads)

    @get("/{stream_id:str}", operation_id="getStream", responses=problems(404, 422, 503))
    async def read(
        self,
        stream_id: FromPath[str],
        reads: NamedDependency[ReadModels],
        after: FromQuery[int | None] = None,
    ) -> StreamView:
        """The stream's status, times, viewers and peak."""
        return await read_stream(stream_id, reads, after)

    @get("/{stream_id:str}/hls", operation_id="getStreamsHls",
         summary="Alias of GET /api/stream/{id}/hls",
         responses=problems(404, 409, 422, 503))
    async def hls(
        self,
        stream_id: FromPath[str],
        reads: NamedDependency[ReadModels],
        settings: NamedDependency[Settings],
        after: FromQuery[int | None] = None,
    ) -> StreamPlayback:
        """Alias of `GET /api/stream/{id}/hls`, under the plural the other stream routes
        use: the same answers and refusals."""
        return await stream_playback(stream_id, reads, settings, after)

    @get("/{stream_id:str}/messages", dependencies={"viewer": Provide(provide_viewer)},
         opt={**LIVE, **bot_scope("chat:read")}, operation_id="listStreamMessages",
         security=[{}, *BEARER],
         responses=problems(403, 404, 422, 503, auth=True))
    async def messages(
        self,
        stream_id: FromPath[str],
        reads: NamedDependency[ReadModels],
        viewer: NamedDependency[Principal | None],
        aggregates: NamedDependency[Aggregates],
        request: Request[Any, Any, Any],
        cursor: Cursor = None,
        before: Before = None,
        limit: Limit = 50,
        after: FromQuery[int | None] = None,
        include_deleted: Annotated[bool, QueryParameter(
            name="includeDeleted", description="the channel's owner and moderators only: "
            "deleted messages too, with their deletedAt")] = False,
    ) -> MessagePage:
        """Chat history, newest first, deleted messages left out (the channel's staff may
        ask for them, `includeDeleted`); pass `nextCursor` back as `cursor`."""
        parse_id(stream_id, "stream")
        page = page_cursor(cursor, before)
        # What a signed-in viewer ignores hides messages: read up to `after` as well.
        await reads.caught_up(("chat_history", "stream_status", "ignores") if viewer
                              else ("chat_history", "stream_status"), after)
        stream = await reads.query(get_stream, stream_id)
        if stream is None:
            raise NotFound(f"stream {stream_id!r} not found")
        if include_deleted:
            await require_staff(aggregates, viewer, stream["channelId"])
        items, next_cursor = await reads.query(list_messages, stream_id, before=page,
                                               limit=limit, include_deleted=include_deleted)
        if page is None and not include_deleted:  # what this node has pushed is in the
            # history, read model or not (staff asking for deleted ones read the model only)
            recent: RecentMessages = request.app.state.feed.recent
            items, next_cursor = newest_page(items, next_cursor is not None,
                                             recent.snapshot(stream_id), limit,
                                             recent.deleted())
        items = await hide_ignored(reads, viewer, items)  # ignored users
        return {"items": items, "nextCursor": next_cursor}

    @post("/{stream_id:str}/messages", status_code=201, dependencies=auth,
          opt=bot_scope("chat:write"),
          operation_id="sendMessage", security=BEARER,
          responses=problems(403, 404, 409, 415, 422, 429, auth=True))
    async def send(
        self,
        stream_id: FromPath[str],
        data: JSONBody[SendMessageBody],
        principal: NamedDependency[Principal],
        rate_limiter: NamedDependency[ChatRateLimiter],
        commands: NamedDependency[CommandBus],
        refusals: NamedDependency[RefusalTally],
    ) -> Message:
        """Posts to the stream's chat (group-committed with concurrent senders)."""
        return await post_message(parse_id(stream_id, "stream"), data.content, principal,
                                  rate_limiter, commands, refusals)
