"""Delivery attempts of outbound webhooks, as facts in the log.

The sender records what a short stretch of its work gave in one event (a new aggregate
each time, so recording never contends and never loads anything): every attempt is in
the log, but as one compact row of a batch, not an event of its own, so a busy channel's
deliveries do not multiply the log's events by its subscriptions."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

# One attempt, as a list in this order (compact: a batch may hold thousands).
ATTEMPT_FIELDS = ("delivery_id", "webhook_id", "channel_id", "position", "event_type",
                  "attempt", "status", "latency_ms", "outcome", "next_retry_at", "note")
OUTCOMES = ("delivered", "retrying", "failed", "refused")


class WebhookAttempts(Aggregate):
    """A batch of delivery attempts (one sender flush)."""

    class Recorded(Aggregate.Created):
        attempts: list[list[Any]]

    def __init__(self, attempts: list[list[Any]]) -> None:
        self.attempts = attempts


def attempt_row(values: list[Any]) -> dict[str, Any]:
    """One attempt of a `Recorded` event as a dict of `ATTEMPT_FIELDS`."""
    return dict(zip(ATTEMPT_FIELDS, values, strict=False))
