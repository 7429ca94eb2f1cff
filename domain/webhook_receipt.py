"""Webhook receipts: each provider notification we accepted, once, whoever sent it (the
ingest providers Mux, Cloudflare Stream and nginx-rtmp, and Clerk's user webhooks).

The aggregate id is derived from the provider and the provider's event id, so a second
delivery of the same event collides in the event store and is recognised as a duplicate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic


class WebhookReceipt(Aggregate):
    """One accepted provider notification and what it led to (`outcome`)."""

    class Received(Aggregate.Created):
        """A provider notification was accepted, and what it led to."""

        class_version = 2

        provider: str
        event_id: str
        event_type: str
        received_at: datetime
        channel_id: UUID | None
        stream_id: UUID | None
        subject: str | None
        outcome: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 came in two shapes: an ingest receipt (this one without `subject`)
            and a Clerk receipt, stored as `ClerkWebhookReceipt.Received` before the two
            aggregates became this one."""
            if "delivery_id" not in state:
                state["subject"] = None
                return
            state["provider"] = "clerk"
            state["event_id"] = state.pop("delivery_id")
            state["subject"] = state.pop("clerk_user_id")
            # Those receipts kept no time of their own: the event's is when it was saved,
            # in the same transaction as the change, so it is when the delivery came.
            state["received_at"] = state["timestamp"]
            state["channel_id"] = None
            state["stream_id"] = None
            state["outcome"] = "handled"  # what it changed was not recorded

    def __init__(self, provider: str, event_id: str, event_type: str, received_at: datetime,
                 channel_id: UUID | None, stream_id: UUID | None, subject: str | None,
                 outcome: str) -> None:
        self.provider = provider
        self.event_id = event_id
        self.event_type = event_type
        self.received_at = received_at
        self.channel_id = channel_id
        self.stream_id = stream_id
        self.subject = subject
        self.outcome = outcome

    @staticmethod
    def create_id(provider: str, event_id: str) -> UUID:  # type: ignore[override]
        if provider == "clerk":
            # The ids Clerk receipts had as their own aggregate: a redelivery of a webhook
            # received before the two aggregates became one still collides with its receipt.
            return uuid5(NAMESPACE_URL, f"/aethex/webhooks/clerk/{event_id}")
        return uuid5(NAMESPACE_URL, f"/aethex/webhook/{provider}/{event_id}")

    @classmethod
    def record(cls, *, provider: str, event_id: str, event_type: str, received_at: datetime,
               channel_id: UUID | None = None, stream_id: UUID | None = None,
               subject: str | None = None, outcome: str) -> WebhookReceipt:
        """`subject` is the provider's id of what the notification is about when that is
        not a channel or stream of ours (Clerk: the user's id)."""
        return cls._create(cls.Received, id=cls.create_id(provider, event_id),
                           provider=provider, event_id=event_id, event_type=event_type,
                           received_at=received_at, channel_id=channel_id,
                           stream_id=stream_id, subject=subject, outcome=outcome)


# Topics receipts were stored under before Clerk's had an aggregate of their own: they load
# as this class (`Received.upcast_v1_v2` turns their state into this shape).
FORMER_TOPICS: dict[str, type] = {
    "domain.clerk_receipt:ClerkWebhookReceipt": WebhookReceipt,
    "domain.clerk_receipt:ClerkWebhookReceipt.Received": WebhookReceipt.Received,
}
for _topic, _cls in FORMER_TOPICS.items():
    register_topic(_topic, _cls)
