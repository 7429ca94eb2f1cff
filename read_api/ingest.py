"""Going live: a channel's stream key (owner only), its rotation, its provider
input binding, its archived streams with VOD URLs, and the operator's streamingConfig."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import Meta

from commands.bind_ingest_input import BindIngestInput
from commands.bus import CommandBus
from commands.rotate_stream_key import RotateStreamKey
from domain.channel import Channel
from domain.errors import NotFound
from infra.identity.auth import Principal
from infra.ingest.ladder import parse_qualities
from infra.readstore.database import Database
from infra.settings import Settings
from projections.stream_ingest import recordings
from projections.stream_status import archived_streams
from read_api.deps import parse_id, provide_principal
from read_api.openapi import BEARER, problems
from read_api.reads import Aggregates, ReadModels
from read_api.views.ingest import (
    IngestInput,
    StreamingConfig,
    StreamKey,
    StreamKeyRotation,
    VodList,
)

auth = {"principal": Provide(provide_principal)}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class BindInputBody(msgspec.Struct, rename="camel"):
    input_id: Annotated[str, Meta(min_length=1, max_length=128)]


def quality_names(settings: Settings) -> list[str]:
    """The renditions viewers can pick, highest first (`source`: the encoder's own)."""
    ladder = parse_qualities(settings.ingest_qualities)
    return [r.name for r in ladder] if ladder else ["source"]


def streaming_config(settings: Settings) -> dict[str, Any]:
    """The plan's `streamingConfig`: where encoders publish and how viewers play."""
    template = {"mux": settings.mux_playback_template,
                "cloudflare": settings.cloudflare_playback_template}.get(
                    settings.ingest_provider, settings.ingest_playback_template)
    return {
        "provider": settings.ingest_provider,
        "ingestUrl": settings.ingest_rtmp_url,
        "playbackTemplate": template,
        "qualities": quality_names(settings),
        "reconnectGraceSeconds": settings.ingest_reconnect_grace_s,
    }


def key_view(channel: Channel, settings: Settings,
             position: int | None = None) -> dict[str, Any]:
    """The key and where to publish; `position` only for a rotation, the write that made
    it (a read has none to tell)."""
    ingest = settings.ingest_rtmp_url.rstrip("/")
    view: dict[str, Any] = {
        "channelId": str(channel.id),
        "streamKey": channel.stream_key,
        "ingestUrl": ingest,
        "publishUrl": f"{ingest}/{channel.stream_key}",
        "provider": settings.ingest_provider,
    }
    if position is not None:
        view["position"] = position
    return view


def list_vods(db: Database, channel_id: str) -> list[dict[str, Any]]:
    return [{**view, "recordings": recordings(db, view["id"])}
            for view in archived_streams(db, channel_id)]


class IngestController(Controller):
    path = "/api/channels"
    tags = ["ingest"]

    @get("/{channel_id:str}/stream-key", dependencies=auth, operation_id="getStreamKey",
         security=BEARER, responses=problems(403, 404, 422, auth=True))
    async def stream_key(
        self, channel_id: FromPath[str], principal: NamedDependency[Principal],
        aggregates: NamedDependency[Aggregates], settings: NamedDependency[Settings],
        after: FromQuery[int | None] = None,
    ) -> Response[StreamKey]:
        """The channel's stream key and ingest URL (owner only; never cached)."""
        await aggregates.current(after)
        channel = await aggregates.get(parse_id(channel_id, "channel"), Channel)
        channel.require_owner(principal.user_id)
        return Response(key_view(channel, settings), headers=NO_STORE)

    @post("/{channel_id:str}/stream-key/rotate", status_code=200, dependencies=auth,
          operation_id="rotateStreamKey", security=BEARER,
          responses=problems(403, 404, auth=True))
    async def rotate(
        self, channel_id: FromPath[str], principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus], settings: NamedDependency[Settings],
    ) -> Response[StreamKeyRotation]:
        """Issues a new stream key; the old one stops working at once (owner only)."""
        result = await commands.execute(RotateStreamKey(
            actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel")))
        return Response(key_view(result.channel, settings, result.position), headers=NO_STORE)

    @put("/{channel_id:str}/ingest-inputs/{provider:str}", dependencies=auth,
         operation_id="bindIngestInput", security=BEARER,
         responses=problems(403, 404, 409, 415, 422, auth=True))
    async def bind_input(
        self, channel_id: FromPath[str], provider: FromPath[str],
        data: JSONBody[BindInputBody], principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> IngestInput:
        """Binds a Mux live stream or Cloudflare live input to the channel (owner only)."""
        position = await commands.execute(BindIngestInput(
            actor_id=principal.user_id, channel_id=parse_id(channel_id, "channel"),
            provider=provider, input_id=data.input_id))
        return {"channelId": channel_id, "provider": provider, "inputId": data.input_id,
                "position": position}

    @get("/{channel_id:str}/vod", operation_id="listChannelVods",
         responses=problems(404, 422, 503))
    async def vod(
        self, channel_id: FromPath[str], aggregates: NamedDependency[Aggregates],
        reads: NamedDependency[ReadModels], after: FromQuery[int | None] = None,
    ) -> VodList:
        """The channel's archived streams, newest first, with their VOD URLs."""
        cid = str(parse_id(channel_id, "channel"))
        if await aggregates.find(parse_id(cid, "channel"), Channel) is None:
            raise NotFound(f"channel {channel_id!r} not found")
        await reads.caught_up(("stream_status",), after)  # streams and their recordings
        return {"items": await reads.query(list_vods, cid)}


class StreamingConfigController(Controller):
    path = "/api/ingest"
    tags = ["ingest"]

    @get("/config", operation_id="getStreamingConfig", responses=problems())
    async def config(self, settings: NamedDependency[Settings]) -> StreamingConfig:
        """Where encoders publish, the playback URL template and the qualities offered."""
        return streaming_config(settings)
