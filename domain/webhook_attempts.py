"""Delivery attempts of outbound webhooks, as facts in the log.

The sender records what a short stretch of its work gave in one event (a new aggregate
each time, so recording never contends and never loads anything). Every attempt is in
that event, in one of two compact forms:

- `delivered`: the deliveries that succeeded at their first attempt (nearly all of them
  on a healthy receiver), grouped by subscription, event type and answer, each group
  listing its event positions and their latencies. A delivery's id, attempt number (1)
  and outcome (`delivered`) follow from that, so they are not written out.
- `attempts`: every other attempt (a failure, a retry, a success after retries, a ping,
  a redelivery) as one row of `ATTEMPT_FIELDS`.

So a busy channel's deliveries neither multiply the log's events by its subscriptions nor
make each event thousands of full rows."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

# One attempt, as a list in this order.
ATTEMPT_FIELDS = ("delivery_id", "webhook_id", "channel_id", "position", "event_type",
                  "attempt", "status", "latency_ms", "outcome", "next_retry_at", "note")
# A group of first-attempt successes, as a list in this order (`positions` and
# `latencies_ms` are parallel lists).
DELIVERED_FIELDS = ("webhook_id", "channel_id", "event_type", "status", "note", "positions",
                    "latencies_ms")
OUTCOMES = ("delivered", "retrying", "failed", "refused")


class WebhookAttempts(Aggregate):
    """A batch of delivery attempts (one sender flush)."""

    class Recorded(Aggregate.Created):
        """`attempts`: rows of `ATTEMPT_FIELDS`; `delivered`: groups of
        `DELIVERED_FIELDS`, each a run of deliveries that succeeded at once."""

        class_version = 2

        attempts: list[list[Any]]
        delivered: list[list[Any]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 held every attempt as a row of `attempts`."""
            state["delivered"] = []

    def __init__(self, attempts: list[list[Any]], delivered: list[list[Any]]) -> None:
        self.attempts = attempts
        self.delivered = delivered


def attempt_row(values: list[Any]) -> dict[str, Any]:
    """One attempt of a `Recorded` event as a dict of `ATTEMPT_FIELDS`."""
    return dict(zip(ATTEMPT_FIELDS, values, strict=False))


def delivered_group(values: list[Any]) -> dict[str, Any]:
    """One group of `delivered` as a dict of `DELIVERED_FIELDS`."""
    return dict(zip(DELIVERED_FIELDS, values, strict=False))
