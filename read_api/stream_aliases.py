"""The plan's ingest names for streams (`/api/stream/...`, singular): where to play a live
stream, and aliases of the `/api/streams` routes. An alias calls the same function as its
original (read_api/streams.py), so it answers and refuses alike; the OpenAPI document says
"Alias of ..." in its summary."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from commands.bus import CommandBus
from infra.identity.auth import Principal
from infra.settings import Settings
from read_api.deps import provide_principal
from read_api.openapi import BEARER, problems
from read_api.reads import ReadModels
from read_api.streams import (
    CreateStreamBody,
    body_id,
    create_stream_session,
    end_stream_session,
    read_stream,
    stream_playback,
)
from read_api.views.stream import Stream, StreamChange, StreamPlayback

auth = {"principal": Provide(provide_principal)}


class EndStreamBody(msgspec.Struct, rename="camel"):
    """The stream to end (the plan's `POST /api/stream/end` names it in the body)."""

    stream_id: Annotated[str, msgspec.Meta(max_length=64)]


class StreamAliasController(Controller):
    path = "/api/stream"
    tags = ["streams"]

    @get("/{stream_id:str}/hls", operation_id="getStreamHls",
         responses=problems(404, 409, 422, 503))
    async def hls(
        self,
        stream_id: FromPath[str],
        reads: NamedDependency[ReadModels],
        settings: NamedDependency[Settings],
        after: FromQuery[int | None] = None,
    ) -> StreamPlayback:
        """Where a LIVE stream plays (its HLS playlist) and its status; 409 when it is not
        LIVE or no encoder has published to it yet."""
        return await stream_playback(stream_id, reads, settings, after)

    @post("/create", status_code=201, dependencies=auth, operation_id="createStreamAlias",
          summary="Alias of POST /api/streams", security=BEARER,
          responses=problems(403, 404, 409, 415, 422, auth=True))
    async def create(
        self,
        data: JSONBody[CreateStreamBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
        reads: NamedDependency[ReadModels],
    ) -> StreamChange:
        """Alias of `POST /api/streams`: prepares a stream OFFLINE (owner only)."""
        return await create_stream_session(data, principal, commands, reads)

    @post("/end", status_code=200, dependencies=auth, operation_id="endStreamAlias",
          summary="Alias of POST /api/streams/{id}/end", security=BEARER,
          responses=problems(403, 404, 409, 415, 422, auth=True))
    async def end(
        self,
        data: JSONBody[EndStreamBody],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
        reads: NamedDependency[ReadModels],
    ) -> StreamChange:
        """Alias of `POST /api/streams/{id}/end`, the stream named by `streamId`."""
        return await end_stream_session(body_id(data.stream_id, "streamId"), principal,
                                        commands, reads)

    @get("/{stream_id:str}", operation_id="getStreamAlias",
         summary="Alias of GET /api/streams/{id}",
         responses=problems(404, 422, 503))
    async def read(
        self,
        stream_id: FromPath[str],
        reads: NamedDependency[ReadModels],
        after: FromQuery[int | None] = None,
    ) -> Stream:
        """Alias of `GET /api/streams/{id}`."""
        return await read_stream(stream_id, reads, after)
