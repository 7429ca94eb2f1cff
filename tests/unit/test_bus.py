"""The in-process bus: AMQP topic matching, queues, consumers, acks and requeue on close."""

from __future__ import annotations

import asyncio

import pytest

from infra.eventstore.envelope import EventBatch
from infra.messaging.bus import Delivery, InProcessBus, LiveUpdate, topic_matches


@pytest.mark.parametrize(
    ("binding", "key", "expected"),
    [
        ("ChatMessage.Sent.c1", "ChatMessage.Sent.c1", True),
        ("ChatMessage.Sent.c1", "ChatMessage.Sent.c2", False),
        ("ChatMessage.*.c1", "ChatMessage.Deleted.c1", True),
        ("*.*.c1", "Stream.Started.c1", True),
        ("*", "Stream", True),
        ("*", "Stream.Started", False),
        ("Stream.*", "Stream", False),
        ("Stream.*.*", "Stream.Started", False),
        ("Stream.*", "Stream.Started.c1", False),  # * is exactly one word
        ("#", "Stream.Started.c1", True),
        ("#", "Stream", True),
        ("Stream.#", "Stream.Started.c1", True),
        ("Stream.#", "Stream", True),  # # may be zero words
        ("Stream.#", "Streams.Started", False),
        ("#.c1", "ChatMessage.Sent.c1", True),
        ("#.c1", "c1", True),
        ("#.c1", "ChatMessage.Sent.c2", False),
        ("Stream.#.c1", "Stream.c1", True),
        ("Stream.#.c1", "Stream.Started.c1", True),
        ("Stream.#.c1", "Stream.A.B.c1", True),
        ("Stream.#.c1", "Stream.Started.c2", False),
        ("#.Started.#", "Stream.Started.c1", True),
        ("#.Started.#", "Stream.Ended.c1", False),
        ("*.Sent.#", "ChatMessage.Sent.c1", True),
        ("*.Sent.#", "Sent.c1", False),
        ("Stream.Started", "stream.started", False),  # case-sensitive
    ],
)
def test_topic_matches(binding: str, key: str, expected: bool) -> None:
    assert topic_matches(binding, key) is expected


def batch(upto: int) -> EventBatch:
    return EventBatch(events=[], upto=upto)


def uptos(deliveries: list[Delivery]) -> list[int]:
    return [d.batch.upto for d in deliveries]


async def test_publish_reaches_only_matching_queues() -> None:
    bus = InProcessBus()
    await bus.connect()
    chat = await bus.consumer("chat", ["ChatMessage.#"], prefetch=10)
    streams = await bus.consumer("streams", ["Stream.*.*", "Channel.WentLive.*"], prefetch=10)
    await bus.publish([
        ("ChatMessage.Sent.c1", batch(1)),
        ("Stream.Started.c1", batch(2)),
        ("Channel.WentLive.c1", batch(3)),
        ("User.Registered.-", batch(4)),
        ("ChatMessage.Deleted.c2", batch(5)),
    ])
    assert uptos(await chat.get_batch(10, 0.1)) == [1, 5]
    assert uptos(await streams.get_batch(10, 0.1)) == [2, 3]
    assert await chat.get_batch(10, 0.01) == []  # nothing more, after the timeout


async def test_a_queue_only_gets_what_is_published_after_it_exists() -> None:
    bus = InProcessBus()
    await bus.publish([("Stream.Started.c1", batch(1))])
    consumer = await bus.consumer("q", ["#"], prefetch=10)
    await bus.publish([("Stream.Started.c1", batch(2))])
    assert uptos(await consumer.get_batch(10, 0.1)) == [2]


async def test_get_batch_respects_max_messages_and_tags_deliveries() -> None:
    bus = InProcessBus()
    consumer = await bus.consumer("q", ["#"], prefetch=10)
    await bus.publish([("a", batch(i)) for i in range(1, 6)])
    first = await consumer.get_batch(2, 0.1)
    second = await consumer.get_batch(10, 0.1)
    assert uptos(first) == [1, 2]
    assert uptos(second) == [3, 4, 5]
    tags = [d.tag for d in first + second]
    assert None not in tags and len(set(tags)) == 5


async def test_get_batch_wakes_on_publish() -> None:
    bus = InProcessBus()
    consumer = await bus.consumer("q", ["#"], prefetch=10)
    waiting = asyncio.create_task(consumer.get_batch(10, 5.0))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await bus.publish([("x", batch(7))])
    assert uptos(await asyncio.wait_for(waiting, 1.0)) == [7]


async def test_acked_deliveries_are_not_redelivered() -> None:
    bus = InProcessBus()
    consumer = await bus.consumer("q", ["#"], prefetch=10)
    await bus.publish([("a", batch(1)), ("a", batch(2))])
    got = await consumer.get_batch(10, 0.1)
    await consumer.ack(got)
    await consumer.close()
    again = await bus.consumer("q", ["#"], prefetch=10)
    assert await again.get_batch(10, 0.01) == []
    assert bus.queues["q"].unacked == {}


async def test_close_requeues_unacked_at_the_front_in_order() -> None:
    bus = InProcessBus()
    consumer = await bus.consumer("q", ["#"], prefetch=10)
    await bus.publish([("a", batch(i)) for i in range(1, 5)])
    got = await consumer.get_batch(3, 0.1)  # 1, 2, 3; 4 stays ready
    assert uptos(got) == [1, 2, 3]
    await consumer.ack([got[1]])  # 2 is done
    await bus.publish([("a", batch(5))])
    await consumer.close()

    again = await bus.consumer("q", ["#"], prefetch=10)
    redelivered = await again.get_batch(10, 0.1)
    assert uptos(redelivered) == [1, 3, 4, 5]
    assert all(d.tag is not None for d in redelivered)


async def test_close_leaves_other_consumers_deliveries_alone() -> None:
    bus = InProcessBus()
    a = await bus.consumer("q", ["#"], prefetch=10)
    b = await bus.consumer("q", ["#"], prefetch=10)
    await bus.publish([("x", batch(1)), ("x", batch(2))])
    assert uptos(await a.get_batch(1, 0.1)) == [1]
    assert uptos(await b.get_batch(1, 0.1)) == [2]
    await a.close()
    assert uptos(await b.get_batch(10, 0.1)) == [1]  # a's unacked delivery came back
    assert list(bus.queues["q"].unacked) != []  # b's are still out


async def test_consumer_again_rebinds_and_delete_queue_drops_it() -> None:
    bus = InProcessBus()
    await bus.consumer("q", ["Stream.#"], prefetch=10)
    consumer = await bus.consumer("q", ["ChatMessage.#"], prefetch=10)
    await bus.publish([("Stream.Started.c", batch(1)), ("ChatMessage.Sent.c", batch(2))])
    assert uptos(await consumer.get_batch(10, 0.1)) == [2]
    await bus.delete_queue("q")
    assert "q" not in bus.queues
    await bus.delete_queue("q")  # idempotent


async def test_live_updates_fan_out_to_every_subscriber() -> None:
    bus = InProcessBus()
    heard: dict[str, list[LiveUpdate]] = {"a": [], "b": []}

    async def on_a(updates: list[LiveUpdate]) -> None:
        heard["a"].extend(updates)

    async def on_b(updates: list[LiveUpdate]) -> None:
        heard["b"].extend(updates)

    await bus.subscribe_live(on_a)
    await bus.subscribe_live(on_b)
    update = LiveUpdate(stream_id="s", event="chat:message", data={"content": "hi"})
    await bus.publish_live([update])
    await bus.publish_live([])  # nothing to say: no call
    assert heard == {"a": [update], "b": [update]}
    await bus.close()
    await bus.publish_live([update])
    assert heard["a"] == [update]  # no subscribers after close
