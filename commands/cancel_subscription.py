"""CancelSubscription: the subscriber stops renewal; the subscription runs to its date."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from commands.subscribe import Subscribed
from domain.errors import NotFound
from domain.subscription import Subscription


class CancelSubscription(msgspec.Struct, frozen=True, kw_only=True):
    """The command: the subscriber and the channel."""

    user_id: UUID
    channel_id: UUID


def cancel_subscription(cmd: CancelSubscription, store: Store) -> Subscribed:
    sub = store.find(Subscription.create_id(cmd.user_id, cmd.channel_id), Subscription)
    if sub is None:
        raise NotFound("you have no subscription to this channel", field="channelId")
    sub.cancel()
    return Subscribed(subscription=sub, position=store.save(sub))
