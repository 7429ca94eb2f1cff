"""Cloudflare Stream webhooks: `Webhook-Signature` verified over the raw body, then live
input and recording notifications drive the stream's lifecycle (infra/ingest/cloudflare.py)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import RawBody

from commands.bus import CommandBus
from commands.ingest_lifecycle import ApplySignal
from domain.errors import NotFound
from infra.ingest import cloudflare
from infra.ingest.signatures import CLOUDFLARE
from infra.settings import Settings
from read_api.openapi import problems
from read_api.views.webhook import WebhookOutcome
from read_api.webhooks import outcome_view


class CloudflareWebhooks(Controller):
    path = "/webhooks/cloudflare"
    tags = ["webhooks"]

    @post("/", status_code=200, operation_id="receiveCloudflareWebhook",
          responses=problems(401, 404, 409, 422))
    async def receive(
        self, request: Request[Any, Any, Any], body: RawBody,
        settings: NamedDependency[Settings], commands: NamedDependency[CommandBus],
    ) -> WebhookOutcome:
        """Verifies, deduplicates, and applies one Cloudflare Stream notification."""
        if not settings.cloudflare_webhook_secret:
            raise NotFound("Cloudflare Stream webhooks are not configured "
                           "(AETHEX_CLOUDFLARE_WEBHOOK_SECRET)")
        raw = bytes(body)
        CLOUDFLARE.verify(settings.cloudflare_webhook_secret,
                          request.headers.get(CLOUDFLARE.header), raw,
                          tolerance_s=settings.webhook_tolerance_s)
        signal = cloudflare.parse(raw)
        return outcome_view(await commands.execute(ApplySignal(signal=signal)))
