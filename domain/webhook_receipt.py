"""Webhook receipts: each provider notification we accepted, once.

The aggregate id is derived from the provider and the provider's event id, so a second
delivery of the same event collides in the event store and is recognised as a duplicate.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


class WebhookReceipt(Aggregate):
    """One accepted provider notification and what it led to (`outcome`)."""

    class Received(Aggregate.Created):
        """A provider notification was accepted, and what it led to."""

        provider: str
        event_id: str
        event_type: str
        received_at: datetime
        channel_id: UUID | None
        stream_id: UUID | None
        outcome: str

    def __init__(self, provider: str, event_id: str, event_type: str, received_at: datetime,
                 channel_id: UUID | None, stream_id: UUID | None, outcome: str) -> None:
        self.provider = provider
        self.event_id = event_id
        self.event_type = event_type
        self.received_at = received_at
        self.channel_id = channel_id
        self.stream_id = stream_id
        self.outcome = outcome

    @staticmethod
    def create_id(provider: str, event_id: str) -> UUID:  # type: ignore[override]
        return uuid5(NAMESPACE_URL, f"/aethex/webhook/{provider}/{event_id}")

    @classmethod
    def record(cls, *, provider: str, event_id: str, event_type: str, received_at: datetime,
               channel_id: UUID | None, stream_id: UUID | None,
               outcome: str) -> WebhookReceipt:
        return cls._create(cls.Received, id=cls.create_id(provider, event_id),
                           provider=provider, event_id=event_id, event_type=event_type,
                           received_at=received_at, channel_id=channel_id,
                           stream_id=stream_id, outcome=outcome)
