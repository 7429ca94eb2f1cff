"""Mux webhooks: `Mux-Signature` verified over the raw body, then the live stream and
asset events drive the stream's lifecycle (see infra/ingest/mux.py)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import RawBody

from commands.bus import CommandBus
from commands.ingest_lifecycle import ApplySignal
from domain.errors import NotFound
from infra.ingest import mux
from infra.ingest.signatures import MUX
from infra.settings import Settings
from read_api.openapi import problems
from read_api.views.webhook import WebhookOutcome
from read_api.webhooks import outcome_view


class MuxWebhooks(Controller):
    path = "/webhooks/mux"
    tags = ["webhooks"]

    @post("/", status_code=200, operation_id="receiveMuxWebhook",
          responses=problems(401, 404, 409, 422))
    async def receive(
        self, request: Request[Any, Any, Any], body: RawBody,
        settings: NamedDependency[Settings], commands: NamedDependency[CommandBus],
    ) -> WebhookOutcome:
        """Verifies, deduplicates by event id, and applies one Mux notification."""
        if not settings.mux_webhook_secret:
            raise NotFound("Mux webhooks are not configured (AETHEX_MUX_WEBHOOK_SECRET)")
        raw = bytes(body)
        MUX.verify(settings.mux_webhook_secret, request.headers.get(MUX.header), raw,
                   tolerance_s=settings.webhook_tolerance_s)
        signal = mux.parse(raw, vod_template=settings.mux_playback_template,
                           thumbnail_template=settings.mux_thumbnail_template)
        return outcome_view(await commands.execute(ApplySignal(signal=signal)))
