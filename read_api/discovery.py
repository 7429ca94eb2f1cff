"""Discovery: what the home page's "live now" and browsing list. Channels, streams and
categories, each read from its own read model and presented by the view of the resource's
own route, paged by an opaque cursor (the sort key of the page's last item)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from domain.errors import Invalid
from domain.stream import StreamStatus
from infra.settings import Settings
from projections.categories import list_categories
from projections.channel_directory import list_channels
from projections.stream_directory import list_streams
from read_api.channels import CHANNEL_READ_MODELS
from read_api.http_cache import LIVE
from read_api.openapi import problems
from read_api.reads import ReadModels
from read_api.views.discovery import CategoryList, ChannelList, StreamList

# Each list waits for the read models its order and its items come from.
CHANNEL_LIST_MODELS = ("channel_directory", *CHANNEL_READ_MODELS)
STREAM_LIST_MODELS = ("stream_directory", "stream_status")
CATEGORY_LIST_MODELS = ("categories",)

OpaqueCursor = Annotated[str | None, QueryParameter(
    description="`nextCursor` of the previous page, as it was given; absent: the first page")]
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="items per page, 1-100")]


def parse_live(value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise Invalid("live must be true or false", field="live")


@get("/api/channels", operation_id="listChannels", tags=["discovery"], opt=LIVE,
     responses=problems(422, 503))
async def list_channels_route(
    reads: NamedDependency[ReadModels],
    settings: NamedDependency[Settings],
    # `live` is also the name of a dependency (the live updates), so the parameter is named
    # apart, read from the query as `live`, and checked here to name `live` when refused.
    live_filter: Annotated[str | None, QueryParameter(
        name="live", description="true: live channels only; false: offline ones only; "
                                 "absent: all, live ones first",
        schema_extra={"enum": ["true", "false"]})] = None,
    category: Annotated[str | None, QueryParameter(max_length=64)] = None,
    tag: Annotated[str | None, QueryParameter(max_length=25)] = None,
    q: Annotated[str | None, QueryParameter(
        max_length=100, description="part of the name or slug, any case")] = None,
    cursor: OpaqueCursor = None,
    limit: Limit = 20,
    after: FromQuery[int | None] = None,
) -> ChannelList:
    """Public channels: live ones by current viewers, then by followers; each item as
    `GET /api/channels/{slug}` answers it."""
    live = parse_live(live_filter)
    await reads.caught_up(CHANNEL_LIST_MODELS, after)
    items, next_cursor = await reads.query(
        list_channels, live=live, category=category, tag=tag, q=q, cursor=cursor, limit=limit,
        stream_url=settings.ingest_rtmp_url)
    return {"items": items, "nextCursor": next_cursor}  # type: ignore[return-value]


@get("/api/streams", operation_id="listStreams", tags=["discovery"], opt=LIVE,
     responses=problems(422, 503))
async def list_streams_route(
    reads: NamedDependency[ReadModels],
    status: Annotated[StreamStatus | None, QueryParameter(
        description="only streams in this status; absent: every status")] = None,
    cursor: OpaqueCursor = None,
    limit: Limit = 20,
    after: FromQuery[int | None] = None,
) -> StreamList:
    """Streams of public channels, the most watched first, then the newest; each item
    as `GET /api/streams/{id}` answers it."""
    await reads.caught_up(STREAM_LIST_MODELS, after)
    items, next_cursor = await reads.query(
        list_streams, status=status.value if status else None, cursor=cursor, limit=limit)
    return {"items": items, "nextCursor": next_cursor}  # type: ignore[return-value]


@get("/api/categories", operation_id="listCategories", tags=["discovery"], opt=LIVE,
     responses=problems(422, 503))
async def list_categories_route(
    reads: NamedDependency[ReadModels],
    cursor: OpaqueCursor = None,
    limit: Limit = 20,
    after: FromQuery[int | None] = None,
) -> CategoryList:
    """Categories of public channels, with live channels and their viewers, the most
    watched first."""
    await reads.caught_up(CATEGORY_LIST_MODELS, after)
    items, next_cursor = await reads.query(list_categories, cursor=cursor, limit=limit)
    return {"items": items, "nextCursor": next_cursor}  # type: ignore[return-value]


# Plain handlers, not a controller: Litestar merges a handler into a path another
# controller already serves (POST /api/channels, POST /api/streams) only when the handler
# comes after it and is not itself a controller, which adds an OPTIONS of its own and
# clashes. entrypoints/app.py lists these after the controllers.
DISCOVERY_ROUTES = [list_channels_route, list_streams_route, list_categories_route]
