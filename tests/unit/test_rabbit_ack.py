"""An acknowledgement that is never written (queued as the connection closed: its drain is
never answered) breaks the consumer instead of holding its projector for good."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from infra.eventstore.envelope import EventBatch
from infra.messaging.bus import Delivery
from infra.messaging.rabbitmq import ConsumerBroken, _AmqpConsumer


class NeverWritten:
    """A delivery tag whose acknowledgement waits for a drain nobody answers."""

    async def ack(self, multiple: bool = False) -> None:
        await asyncio.Event().wait()


async def test_an_acknowledgement_that_never_goes_out_breaks_the_consumer() -> None:
    channel = SimpleNamespace(is_closed=False)  # as the channel believes, wrongly
    queue = SimpleNamespace(name="ns.projector.users")
    consumer = _AmqpConsumer(channel, queue)  # type: ignore[arg-type]
    consumer.ACK_TIMEOUT_S = 0.05
    delivery = Delivery(batch=EventBatch([], 1), tag=NeverWritten())  # type: ignore[arg-type]
    with pytest.raises(ConsumerBroken, match="never written"):
        await consumer.ack([delivery])
