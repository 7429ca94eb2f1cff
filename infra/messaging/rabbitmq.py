"""The event bus over RabbitMQ (aio-pika): a durable topic exchange for event batches,
publisher confirms, one durable single-active-consumer queue per projector, and a topic
exchange for live updates that every API node reads through its own exclusive queue.
API nodes also read the event batches through exclusive queues of their own.

Publishing goes through a robust connection (it reconnects by itself). Everything that
consumes goes through a second, plain connection whose channels are never restored in
place: a robust channel restored after a broker restart kept consuming into an inbox
nobody read any more, and the messages it held still carried the dead channel's delivery
tags, so their acknowledgements failed. Here a consumer whose channel closed (or that the
broker cancelled) raises `ConsumerBroken`, and its owner, restarted by the supervisor,
builds a new channel and consumer; the live subscriptions are watched the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aio_pika
import msgspec
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from infra.eventstore.envelope import EventBatch
from infra.messaging.bus import BatchHandler, Consumer, Delivery, LiveHandler, LiveUpdate
from infra.observability import tracing
from infra.runtime.supervisor import Supervised, Supervisor, working

_batch_decoder = msgspec.json.Decoder(EventBatch)
_live_decoder = msgspec.json.Decoder(list[LiveUpdate])
_encoder = msgspec.json.Encoder()


def _usable(connection: AbstractConnection | None) -> bool:
    """Whether channels can still be opened on `connection`. A plain connection the broker
    closed still says `is_closed` False; its transport knows better."""
    if connection is None or connection.is_closed:
        return False
    transport = getattr(connection, "transport", None)
    return transport is not None and not transport.connection.is_closed


class ConsumerBroken(ConnectionError):
    """A consumer's channel closed or the broker cancelled it: build a new one."""


class _AmqpConsumer:
    CLOSE_TIMEOUT_S = 5.0
    ACK_TIMEOUT_S = 5.0

    def __init__(self, channel: AbstractChannel, queue: AbstractQueue,
                 on_closed: Callable[[_AmqpConsumer], None] | None = None) -> None:
        self.channel = channel
        self.queue = queue
        self.inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self.tag: str | None = None
        self.cancelled = False
        self._on_closed = on_closed

    async def start(self) -> None:
        self.tag = await self.queue.consume(self.inbox.put, no_ack=False)
        underlay = await self.channel.get_underlay_channel()
        underlay.on_consumer_cancel_callbacks.add(self._on_cancel)

    def _on_cancel(self, frame: Any) -> None:
        # The broker dropped this consumer (its queue was deleted, say): nothing more
        # will arrive on it.
        if getattr(frame, "consumer_tag", None) == self.tag:
            self.cancelled = True

    def check(self) -> None:
        """Raises `ConsumerBroken` if nothing more can arrive or be acknowledged here."""
        if self.cancelled:
            raise ConsumerBroken(f"the broker cancelled the consumer of {self.queue.name}")
        if self.channel.is_closed:
            raise ConsumerBroken(f"the channel consuming {self.queue.name} closed")

    async def get_batch(self, max_messages: int, timeout: float) -> list[Delivery]:
        self.check()
        try:
            first = await asyncio.wait_for(self.inbox.get(), timeout)
        except TimeoutError:
            first = None
        if first is None:
            self.check()  # an idle wait is when a broken channel shows
            return []
        messages = [first]
        while len(messages) < max_messages and not self.inbox.empty():
            messages.append(self.inbox.get_nowait())
        return [Delivery(batch=_batch_decoder.decode(m.body), tag=m,
                         traces=tracing.header_traces(m.headers))
                for m in messages]

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            self.check()
            # An acknowledgement queued as the connection closes may wait for a write that
            # never happens (its drain is never answered): a consumer stuck there would
            # look alive and hear nothing more.
            try:
                await asyncio.wait_for(deliveries[-1].tag.ack(multiple=True),
                                       self.ACK_TIMEOUT_S)
            except TimeoutError:
                raise ConsumerBroken(f"an acknowledgement on {self.queue.name} was never "
                                     "written (the connection went away)") from None

    async def close(self) -> None:
        # Closing the channel hands every unacknowledged message back to the queue. It is
        # closed even when it looks closed already, so that nothing reopens it.
        if self._on_closed is not None:
            self._on_closed(self)
            self._on_closed = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.channel.close(), self.CLOSE_TIMEOUT_S)


class RabbitBus:
    """Exchanges and queues are named under the namespace, so deployments can share a vhost.

    Every step that waits on the broker has a deadline (`RPC_TIMEOUT_S`): a broker that is
    still booting may accept a connection and then answer nothing for a long time, and a
    consumer set up against it must fail (and be set up again by its supervisor) rather
    than wait for good."""

    RPC_TIMEOUT_S = 10.0
    # The publishing connection is restored in place by aio-pika; how soon it tries again
    # after losing the broker (its default, 5 s, is most of a restart's recovery time).
    RECONNECT_INTERVAL_S = 1.0

    def __init__(self, url: str, namespace: str, supervisor: Supervisor | None = None) -> None:
        self.url = url
        self.namespace = namespace
        # Watches the live subscriptions (the process's supervisor, or one of its own).
        self.supervisor = supervisor or Supervisor()
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.events: AbstractExchange | None = None
        self.live: AbstractExchange | None = None
        self.consumer_connection: AbstractConnection | None = None
        self._consumer_lock = asyncio.Lock()
        self._consumers: set[_AmqpConsumer] = set()
        self._subscriptions: list[Supervised] = []
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
        self.connection = await aio_pika.connect_robust(
            self.url, timeout=self.RPC_TIMEOUT_S, reconnect_interval=self.RECONNECT_INTERVAL_S)
        self.channel = await self.connection.channel(publisher_confirms=True)
        self.events = await self.channel.declare_exchange(
            self.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        self.live = await self.channel.declare_exchange(
            self.live_exchange, aio_pika.ExchangeType.TOPIC, durable=True)

    async def _consuming_connection(self) -> AbstractConnection:
        """The plain connection consumers use, connected again if it was lost."""
        async with self._consumer_lock:
            if not _usable(self.consumer_connection):
                if self.consumer_connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(self.consumer_connection.close(), 5)
                self.consumer_connection = await aio_pika.connect(
                    self.url, timeout=self.RPC_TIMEOUT_S,
                    # shown by the broker: which deployment's consumers these are
                    client_properties={"connection_name": f"aethex.{self.namespace}.consumers"})
            return self.consumer_connection

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.stop()
        self._subscriptions.clear()
        for consumer in list(self._consumers):
            await consumer.close()
        self._consumers.clear()
        if self.consumer_connection is not None:
            with contextlib.suppress(Exception):
                await self.consumer_connection.close()
            self.consumer_connection = None
        if self.connection is not None:
            await self.connection.close()
            self.connection = None

    async def publish(self, batches: Sequence[tuple[str, EventBatch]],
                      traces: Sequence[list[str]] | None = None) -> None:
        """Publishes in order and returns once the broker has confirmed every message."""
        assert self.events is not None, "connect() first"
        # One AMQP message holds events of many traces: its headers name the publisher's
        # span in each of them; each event keeps its own context in `trace`.
        confirmations = [
            self.events.publish(
                aio_pika.Message(_encoder.encode(batch), content_type="application/json",
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                 headers=tracing.message_headers(traces[n]) if traces
                                 else None),
                routing_key=key, timeout=self.RPC_TIMEOUT_S,
            )
            for n, (key, batch) in enumerate(batches)
        ]
        await asyncio.gather(*confirmations)

    async def consumer(self, queue: str, bindings: Sequence[str], prefetch: int) -> Consumer:
        """A new channel and consumer on `queue` (declared and bound if missing); once it
        raises `ConsumerBroken`, close it and ask for another."""
        assert self.connection is not None, "connect() first"
        async with asyncio.timeout(self.RPC_TIMEOUT_S):
            channel = await (await self._consuming_connection()).channel()
        try:
            async with asyncio.timeout(self.RPC_TIMEOUT_S):
                await channel.set_qos(prefetch_count=prefetch)
                exchange = await channel.get_exchange(self.events_exchange)
                q = await channel.declare_queue(
                    self.queue_name(queue), durable=True,
                    arguments={"x-single-active-consumer": True})
                for binding in bindings:
                    await q.bind(exchange, routing_key=binding)
                consumer = _AmqpConsumer(channel, q, on_closed=self._consumers.discard)
                await consumer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.close(), 5)
            raise
        self._consumers.add(consumer)
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
        origin = self.origin

        async def on_message(message: AbstractIncomingMessage) -> None:
            if message.headers and message.headers.get("origin") == origin:
                return  # this node delivered them already
            await handler(_live_decoder.decode(message.body))

        async def open_channel() -> AbstractChannel:
            channel = await (await self._consuming_connection()).channel()
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(self.live_exchange, routing_key="stream.#")
            await queue.consume(on_message, no_ack=True)
            return channel

        await self._keep_subscribed("bus:live-subscription", open_channel)

    async def subscribe_events(self, bindings: Sequence[str], handler: BatchHandler) -> None:
        assert self.connection is not None, "connect() first"

        async def on_message(message: AbstractIncomingMessage) -> None:
            await handler(_batch_decoder.decode(message.body))

        async def open_channel() -> AbstractChannel:
            channel = await (await self._consuming_connection()).channel()
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            for binding in bindings:
                await queue.bind(self.events_exchange, routing_key=binding)
            await queue.consume(on_message, no_ack=True)
            return channel

        await self._keep_subscribed("bus:event-subscription", open_channel)

    async def _keep_subscribed(self, name: str,
                               open_channel: Callable[[], Awaitable[AbstractChannel]]) -> None:
        """Subscribes now (so it is in place when this returns), then keeps a supervised
        task that waits for the channel to close and raises, so the supervisor subscribes
        again on a new channel (what was published in between is not seen: live updates
        are ephemeral, and the relayed events are a fallback)."""
        async def opened() -> AbstractChannel:
            async with asyncio.timeout(self.RPC_TIMEOUT_S):
                return await open_channel()

        first: list[AbstractChannel] = [await opened()]

        async def watch() -> None:
            channel = first.pop() if first else await opened()
            working()  # subscribed again
            try:
                while not channel.is_closed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(channel.closed(), 1.0)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(channel.close(), 5.0)
            raise ConsumerBroken(f"{name}: its channel closed")

        self._subscriptions.append(self.supervisor.spawn(name, watch, graceful=False))
