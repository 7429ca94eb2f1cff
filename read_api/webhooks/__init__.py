"""Webhook receivers: the ingest ones (nginx-rtmp hooks, Mux, Cloudflare Stream) and
Clerk's user webhooks. Each accepted notification is recorded once, as a WebhookReceipt."""

from __future__ import annotations

from typing import Any

from commands.ingest_lifecycle import Outcome


def outcome_view(outcome: Outcome) -> dict[str, Any]:
    """What a webhook route answers: whether it was new, and what it did."""
    return {
        "received": True,
        "duplicate": outcome.duplicate,
        "outcome": outcome.outcome,
        "channelId": str(outcome.channel_id) if outcome.channel_id else None,
        "streamId": str(outcome.stream_id) if outcome.stream_id else None,
        "status": outcome.status,
        "position": outcome.position,
    }
