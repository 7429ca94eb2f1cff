"""Receipts of Clerk webhook deliveries: one aggregate per `svix-id`, saved with the change
the delivery caused, so a redelivered webhook collides and changes nothing."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


class ClerkWebhookReceipt(Aggregate):
    """The fact that delivery `delivery_id` (an event of `event_type`) was handled."""

    class Received(Aggregate.Created):
        delivery_id: str
        event_type: str
        clerk_user_id: str

    def __init__(self, delivery_id: str, event_type: str, clerk_user_id: str) -> None:
        self.delivery_id = delivery_id
        self.event_type = event_type
        self.clerk_user_id = clerk_user_id

    @staticmethod
    def create_id(delivery_id: str) -> UUID:  # type: ignore[override]
        return uuid5(NAMESPACE_URL, f"/aethex/webhooks/clerk/{delivery_id}")

    @classmethod
    def record(cls, delivery_id: str, event_type: str, clerk_user_id: str
               ) -> ClerkWebhookReceipt:
        return cls._create(cls.Received, delivery_id=delivery_id, event_type=event_type,
                           clerk_user_id=clerk_user_id)
