"""The event bus over RabbitMQ (aio-pika): a durable topic exchange for event batches,
publisher confirms, one durable single-active-consumer queue per projector, and a topic
exchange for live updates that every API node reads through its own exclusive queue.
API nodes also read the event batches through exclusive queues of their own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import aio_pika
import msgspec
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from infra.bus import BatchHandler, Consumer, Delivery, LiveHandler, LiveUpdate
from infra.envelope import EventBatch

_batch_decoder = msgspec.json.Decoder(EventBatch)
_live_decoder = msgspec.json.Decoder(list[LiveUpdate])
_encoder = msgspec.json.Encoder()


class _AmqpConsumer:
    def __init__(self, channel: AbstractChannel, queue: AbstractQueue) -> None:
        self.channel = channel
        self.queue = queue
        self.inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self.tag: str | None = None

    async def start(self) -> None:
        self.tag = await self.queue.consume(self.inbox.put, no_ack=False)

    async def get_batch(self, max_messages: int, timeout: float) -> list[Delivery]:
        try:
            first = await asyncio.wait_for(self.inbox.get(), timeout)
        except TimeoutError:
            return []
        messages = [first]
        while len(messages) < max_messages and not self.inbox.empty():
            messages.append(self.inbox.get_nowait())
        return [Delivery(batch=_batch_decoder.decode(m.body), tag=m) for m in messages]

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            await deliveries[-1].tag.ack(multiple=True)

    async def close(self) -> None:
        # Closing the channel hands every unacknowledged message back to the queue.
        if not self.channel.is_closed:
            await self.channel.close()


class RabbitBus:
    """Exchanges and queues are named under the namespace, so deployments can share a vhost."""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.namespace = namespace
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.events: AbstractExchange | None = None
        self.live: AbstractExchange | None = None
        self._consumers: list[_AmqpConsumer] = []
        # Marks what this bus publishes for the other nodes only, so its own live queue
        # can skip it.
        self.origin = uuid.uuid4().hex

    @property
    def events_exchange(self) -> str:
        return f"{self.namespace}.events"

    @property
    def live_exchange(self) -> str:
        return f"{self.namespace}.live"

    def queue_name(self, queue: str) -> str:
        return f"{self.namespace}.{queue}"

    async def connect(self) -> None:
        self.connection = await aio_pika.connect_robust(self.url, timeout=10)
        self.channel = await self.connection.channel(publisher_confirms=True)
        self.events = await self.channel.declare_exchange(
            self.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        self.live = await self.channel.declare_exchange(
            self.live_exchange, aio_pika.ExchangeType.TOPIC, durable=True)

    async def close(self) -> None:
        for consumer in self._consumers:
            await consumer.close()
        self._consumers.clear()
        if self.connection is not None:
            await self.connection.close()
            self.connection = None

    async def publish(self, batches: Sequence[tuple[str, EventBatch]]) -> None:
        """Publishes in order and returns once the broker has confirmed every message."""
        assert self.events is not None, "connect() first"
        confirmations = [
            self.events.publish(
                aio_pika.Message(_encoder.encode(batch), content_type="application/json",
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=key,
            )
            for key, batch in batches
        ]
        await asyncio.gather(*confirmations)

    async def consumer(self, queue: str, bindings: Sequence[str], prefetch: int) -> Consumer:
        assert self.connection is not None, "connect() first"
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        exchange = await channel.get_exchange(self.events_exchange)
        q = await channel.declare_queue(
            self.queue_name(queue), durable=True,
            arguments={"x-single-active-consumer": True})
        for binding in bindings:
            await q.bind(exchange, routing_key=binding)
        consumer = _AmqpConsumer(channel, q)
        await consumer.start()
        self._consumers.append(consumer)
        return consumer

    async def delete_queue(self, queue: str) -> None:
        assert self.connection is not None, "connect() first"
        channel = await self.connection.channel()
        await channel.queue_delete(self.queue_name(queue))
        await channel.close()

    async def publish_live(self, updates: Sequence[LiveUpdate], *,
                           others_only: bool = False) -> None:
        assert self.live is not None, "connect() first"
        by_stream: dict[str, list[LiveUpdate]] = {}
        for update in updates:
            by_stream.setdefault(update.stream_id, []).append(update)
        headers = {"origin": self.origin} if others_only else None
        await asyncio.gather(*(
            self.live.publish(aio_pika.Message(_encoder.encode(group), headers=headers),
                              routing_key=f"stream.{stream_id}")
            for stream_id, group in by_stream.items()
        ))

    async def subscribe_live(self, handler: LiveHandler) -> None:
        assert self.connection is not None, "connect() first"
        channel = await self.connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(self.live_exchange, routing_key="stream.#")
        origin = self.origin

        async def on_message(message: AbstractIncomingMessage) -> None:
            if message.headers and message.headers.get("origin") == origin:
                return  # this node delivered them already
            await handler(_live_decoder.decode(message.body))

        await queue.consume(on_message, no_ack=True)

    async def subscribe_events(self, bindings: Sequence[str], handler: BatchHandler) -> None:
        assert self.connection is not None, "connect() first"
        channel = await self.connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for binding in bindings:
            await queue.bind(self.events_exchange, routing_key=binding)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await handler(_batch_decoder.decode(message.body))

        await queue.consume(on_message, no_ack=True)
