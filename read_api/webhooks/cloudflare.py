"""Cloudflare Stream webhooks: live input notifications (Cloudflare Notifications, the
secret in `cf-webhook-auth`) and video webhooks (`Webhook-Signature` HMAC over the raw
body), each checked by its own scheme, then applied to the stream's lifecycle
(infra/ingest/cloudflare.py)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import RawBody

from commands.bus import CommandBus
from commands.ingest_lifecycle import ApplySignal
from commands.ports import IngestSignal
from domain.errors import NotFound, Unauthenticated
from infra.ingest import cloudflare
from infra.ingest.signatures import CLOUDFLARE
from infra.settings import Settings
from read_api.openapi import problems
from read_api.views.webhook import WebhookOutcome
from read_api.webhooks import outcome_view


def verified_signal(headers: Any, raw: bytes, settings: Settings) -> IngestSignal:
    """The notification, once its scheme's check has passed: a live input event must carry
    the Notifications secret, a video webhook the HMAC signature; neither is taken for
    the other."""
    auth = headers.get(cloudflare.AUTH_HEADER)
    signature = headers.get(CLOUDFLARE.header)
    if auth is None and signature is None:
        raise Unauthenticated(f"missing {cloudflare.AUTH_HEADER} (live input notifications) "
                              f"or {CLOUDFLARE.header} (video webhooks) header")
    if auth is not None:
        if not settings.cloudflare_notification_secret:
            raise Unauthenticated("live input notifications are not configured "
                                  "(AETHEX_CLOUDFLARE_NOTIFICATION_SECRET)")
        cloudflare.verify_notification(settings.cloudflare_notification_secret, auth)
        if not cloudflare.is_live_notification(raw):
            raise Unauthenticated(f"a video webhook must be signed with {CLOUDFLARE.header}")
        return cloudflare.parse_live(raw)
    if not settings.cloudflare_webhook_secret:
        raise Unauthenticated("video webhooks are not configured "
                              "(AETHEX_CLOUDFLARE_WEBHOOK_SECRET)")
    CLOUDFLARE.verify(settings.cloudflare_webhook_secret, signature, raw,
                      tolerance_s=settings.webhook_tolerance_s)
    if cloudflare.is_live_notification(raw):
        raise Unauthenticated("a live input notification must carry "
                              f"{cloudflare.AUTH_HEADER}")
    return cloudflare.parse_video(raw)


class CloudflareWebhooks(Controller):
    path = "/webhooks/cloudflare"
    tags = ["webhooks"]

    @post("/", status_code=200, operation_id="receiveCloudflareWebhook",
          responses=problems(401, 404, 409, 422))
    async def receive(
        self, request: Request[Any, Any, Any], body: RawBody,
        settings: NamedDependency[Settings], commands: NamedDependency[CommandBus],
    ) -> WebhookOutcome:
        """Verifies (by the notification's own scheme), deduplicates, and applies one
        Cloudflare Stream notification."""
        if not (settings.cloudflare_webhook_secret or settings.cloudflare_notification_secret):
            raise NotFound("Cloudflare Stream webhooks are not configured "
                           "(AETHEX_CLOUDFLARE_WEBHOOK_SECRET, "
                           "AETHEX_CLOUDFLARE_NOTIFICATION_SECRET)")
        signal = verified_signal(request.headers, bytes(body), settings)
        return outcome_view(await commands.execute(ApplySignal(signal=signal)))
