"""nginx-rtmp hooks: `on_publish` checks the stream key (2xx allows, 403 refuses) and
starts or resumes the stream, redirecting nginx to relay it under the stream's public id;
`on_publish_done` starts the reconnect grace; `on_record_done` archives with the file;
`on_update` (every few seconds while a publisher is on) drops, with 403, one far above
the top rendition's bitrate when AETHEX_INGEST_OVER_BITRATE is `refuse`.

Hooks come from our own nginx: with AETHEX_INGEST_HOOK_TOKEN set they must carry it as
`?token=`, otherwise only loopback callers are accepted.
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import PurePosixPath
from typing import Any
from uuid import UUID

import structlog
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from commands.actors import SystemActor
from commands.bus import CommandBus
from commands.ingest_key import channel_for_key
from commands.ingest_lifecycle import ApplySignal, nginx_event_id
from commands.ports import IngestSignal
from commands.refuse_ingest import RefuseIngest
from domain.errors import Conflict, Forbidden, Invalid, Unauthenticated
from infra.ingest.nginx_rtmp import PROVIDER, parse_hook
from infra.ingest.nginx_stat import StatUnavailable, fetch_publisher_kbps
from infra.settings import Settings
from read_api.openapi import problems
from read_api.reads import Aggregates
from read_api.views.webhook import BitrateCheck, PublishRedirect, WebhookOutcome
from read_api.webhooks import outcome_view

log = structlog.get_logger(__name__)


def check_caller(request: Request[Any, Any, Any], settings: Settings) -> None:
    token = settings.ingest_hook_token
    if token:
        given = request.query_params.get("token") or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthenticated("the ingest hook token is missing or wrong", field="token")
        return
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Forbidden("ingest hooks are accepted from loopback only unless "
                        "AETHEX_INGEST_HOOK_TOKEN is set")


async def _form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    return {k: form.get(k) for k in form}


class NginxRtmpHooks(Controller):
    path = "/webhooks/nginx-rtmp"
    tags = ["webhooks"]

    # The answer is always the redirect (nginx-rtmp relays the publisher to `Location`).
    @post("/on_publish", status_code=302, operation_id="handleNginxPublish",
          responses=problems(401, 403, 404, 409, 422))
    async def on_publish(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings],
        commands: NamedDependency[CommandBus], aggregates: NamedDependency[Aggregates],
    ) -> Response[PublishRedirect]:
        """An encoder publishes: a current key starts (or resumes) the stream and nginx is
        redirected to relay it as `hls/<stream id>`; any other key gets 403."""
        check_caller(request, settings)
        hook = parse_hook(await _form(request), "publish")
        channel = await aggregates.query(channel_for_key, hook.name)
        signal = IngestSignal(provider=PROVIDER, event_id=nginx_event_id("publish"),
                              event_type="publish", kind="connected")
        outcome = await commands.execute(ApplySignal(signal=signal, channel_id=channel.id))
        if outcome.stream_id is None or outcome.status != "LIVE":
            raise Conflict(f"the channel cannot go live now ({outcome.outcome})",
                           field="name")
        # nginx-rtmp: a 3xx whose Location is an rtmp:// URL relays the publisher there.
        location = f"{settings.ingest_nginx_push_url.rstrip('/')}/{outcome.stream_id}"
        return Response({**outcome_view(outcome), "location": location}, status_code=302,
                        headers={"Location": location})

    @post("/on_publish_done", status_code=200, operation_id="handleNginxPublishDone",
          responses=problems(401, 403, 404, 409, 422))
    async def on_publish_done(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings],
        commands: NamedDependency[CommandBus], aggregates: NamedDependency[Aggregates],
    ) -> WebhookOutcome:
        """The encoder stopped: the stream stays LIVE for the reconnect grace."""
        check_caller(request, settings)
        hook = parse_hook(await _form(request), "publish_done")
        # A key rotated during the broadcast still names its channel here: nginx only
        # reports the end of a publish it accepted.
        channel = await aggregates.query(channel_for_key, hook.name, current_only=False)
        signal = IngestSignal(provider=PROVIDER, event_id=nginx_event_id("publish_done"),
                              event_type="publish_done", kind="disconnected")
        outcome = await commands.execute(ApplySignal(signal=signal, channel_id=channel.id))
        return outcome_view(outcome)

    @post("/on_update", status_code=200, operation_id="handleNginxUpdate",
          responses=problems(401, 403, 404, 422))
    async def on_update(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings],
        commands: NamedDependency[CommandBus], aggregates: NamedDependency[Aggregates],
    ) -> BitrateCheck:
        """A publisher is still on: with the `refuse` policy, its bitrate so far (nginx's
        statistics) over the limit gets 403, and nginx drops it."""
        check_caller(request, settings)
        form = await _form(request)
        limit = settings.max_ingest_kbps()
        if (settings.ingest_over_bitrate != "refuse" or limit is None
                or not settings.ingest_nginx_stat_url or form.get("call") != "update_publish"):
            return {"checked": False}  # relays (update_play) and the `cap` policy pass
        hook = parse_hook(form, "update_publish")
        if not hook.clientid:
            raise Invalid("the client id is missing", field="clientid")
        try:
            kbps = await fetch_publisher_kbps(settings.ingest_nginx_stat_url, hook.clientid)
        except StatUnavailable as e:
            # Any answer but 2xx drops the publisher: a check we could not make is no
            # reason to.
            log.warning("ingest.stat_unavailable", error=str(e)[:200])
            return {"checked": False}
        if kbps is None or kbps <= limit:
            return {"checked": kbps is not None, "bitrateKbps": kbps, "limitKbps": limit}
        channel = await aggregates.query(channel_for_key, hook.name, current_only=False)
        await commands.execute(RefuseIngest(
            actor_id=SystemActor(f"ingest:{PROVIDER}"), channel_id=channel.id,
            provider=PROVIDER, bitrate_kbps=kbps, limit_kbps=limit))
        raise Forbidden(f"the encoder sends {kbps:.0f} kbps, over this server's limit of "
                        f"{limit:.0f} kbps: lower its bitrate", field="bitrate")

    @post("/on_record_done", status_code=200, operation_id="handleNginxRecordDone",
          responses=problems(401, 403, 404, 409, 422))
    async def on_record_done(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings],
        commands: NamedDependency[CommandBus],
    ) -> WebhookOutcome:
        """A recording is complete: archives the stream (or keeps it for the archive while
        the stream is within its reconnect grace)."""
        check_caller(request, settings)
        hook = parse_hook(await _form(request), "record_done")
        try:
            stream_id = UUID(hook.name)
        except ValueError:
            raise Invalid("the stream name is not a stream id", field="name") from None
        recording = PurePosixPath(hook.path or "").name
        vod_url = settings.ingest_vod_template.replace("{recording}", recording)
        signal = IngestSignal(provider=PROVIDER, event_id=nginx_event_id("record_done"),
                              event_type="record_done", kind="recording",
                              recording_path=hook.path, vod_url=vod_url)
        outcome = await commands.execute(ApplySignal(signal=signal, stream_id=stream_id))
        return outcome_view(outcome)
