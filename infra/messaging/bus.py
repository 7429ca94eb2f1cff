"""The event bus port, and its in-process form for the embedded mode.

Two kinds of traffic:
- event batches, published by the relay to a topic exchange and consumed by projectors
  from durable queues (at-least-once; projectors make the effect exactly-once);
- live updates, fanned out to every API node, which pushes them to its rooms: messages
  the publishing node has just committed (and delivered itself), and ephemeral ones
  (joins, typing, bans).
Each API node also reads the event batches themselves through a queue of its own
(`subscribe_events`): the relayed copy of what another node committed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import msgspec

from infra.eventstore.envelope import EventBatch

WATERMARK_KEY = "_watermark"


class LiveUpdate(msgspec.Struct, frozen=True, gc=False):
    """Something to push to a stream's room: `event` is the socket event name."""

    stream_id: str
    event: str
    data: Any


LiveHandler = Callable[[list[LiveUpdate]], Awaitable[None]]
BatchHandler = Callable[[EventBatch], Awaitable[None]]


class Delivery(msgspec.Struct):
    """One received event batch and the tag to acknowledge it by."""

    batch: EventBatch
    tag: Any = None
    # The publisher's span in each trace the batch holds (AMQP header `aethex-traces`).
    traces: list[str] = msgspec.field(default_factory=list)


class Consumer(Protocol):
    async def get_batch(self, max_messages: int, timeout: float) -> list[Delivery]: ...
    async def ack(self, deliveries: Sequence[Delivery]) -> None: ...
    async def close(self) -> None: ...


class EventBus(Protocol):
    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, batches: Sequence[tuple[str, EventBatch]],
                      traces: Sequence[list[str]] | None = None) -> None:
        """Each batch to the queues its key matches; `traces`, one list per batch: the
        publisher's span in each trace the batch holds (when tracing)."""
        ...
    async def consumer(self, queue: str, bindings: Sequence[str], prefetch: int) -> Consumer: ...
    async def delete_queue(self, queue: str) -> None: ...
    async def publish_live(self, updates: Sequence[LiveUpdate], *,
                           others_only: bool = False) -> None:
        """To every API node's live handler; `others_only`: not back to this bus's own
        (the publisher has delivered them itself)."""
        ...
    async def subscribe_live(self, handler: LiveHandler) -> None: ...
    async def subscribe_events(self, bindings: Sequence[str], handler: BatchHandler) -> None:
        """Every event batch published from now on whose key matches, while this process
        lives (no durable queue: a node that restarts resumes from the read models)."""
        ...


def topic_matches(binding: str, key: str) -> bool:
    """AMQP topic semantics: `*` is exactly one word, `#` is zero or more words."""
    pattern, words = binding.split("."), key.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(words)
        if pattern[i] == "#":
            return any(match(i + 1, k) for k in range(j, len(words) + 1))
        if j == len(words):
            return False
        return (pattern[i] == "*" or pattern[i] == words[j]) and match(i + 1, j + 1)

    return match(0, 0)


class _LocalQueue:
    def __init__(self, bindings: Sequence[str]) -> None:
        self.bindings = list(bindings)
        self.ready: deque[Delivery] = deque()
        self.unacked: dict[int, Delivery] = {}
        self.signal = asyncio.Event()
        self.next_tag = 0

    def matches(self, key: str) -> bool:
        return any(topic_matches(b, key) for b in self.bindings)


class _LocalConsumer:
    def __init__(self, queue: _LocalQueue) -> None:
        self.queue = queue
        self.mine: set[int] = set()

    async def get_batch(self, max_messages: int, timeout: float) -> list[Delivery]:
        q = self.queue
        if not q.ready:
            q.signal.clear()
            try:
                await asyncio.wait_for(q.signal.wait(), timeout)
            except TimeoutError:
                return []
        out = []
        while q.ready and len(out) < max_messages:
            d = q.ready.popleft()
            q.next_tag += 1
            d = Delivery(batch=d.batch, tag=q.next_tag, traces=d.traces)
            q.unacked[d.tag] = d
            self.mine.add(d.tag)
            out.append(d)
        return out

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        for d in deliveries:
            self.queue.unacked.pop(d.tag, None)
            self.mine.discard(d.tag)

    async def close(self) -> None:
        # Like a closed AMQP channel: what was not acknowledged goes back, in order, first.
        back = [self.queue.unacked.pop(t) for t in sorted(self.mine) if t in self.queue.unacked]
        self.mine.clear()
        for d in reversed(back):
            self.queue.ready.appendleft(Delivery(batch=d.batch, traces=d.traces))
        if back:
            self.queue.signal.set()


class InProcessBus:
    """The embedded bus: queues live in this process and last as long as it does.
    Projectors still catch up from the event store at start, so nothing is lost."""

    def __init__(self) -> None:
        self.queues: dict[str, _LocalQueue] = {}
        self.live_handlers: list[LiveHandler] = []
        self.event_handlers: list[tuple[list[str], BatchHandler]] = []

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        self.live_handlers.clear()
        self.event_handlers.clear()

    async def publish(self, batches: Sequence[tuple[str, EventBatch]],
                      traces: Sequence[list[str]] | None = None) -> None:
        for n, (key, batch) in enumerate(batches):
            for q in self.queues.values():
                if q.matches(key):
                    q.ready.append(Delivery(batch=batch, traces=traces[n] if traces else []))
                    q.signal.set()
            for bindings, handler in list(self.event_handlers):
                if any(topic_matches(b, key) for b in bindings):
                    await handler(batch)

    async def consumer(self, queue: str, bindings: Sequence[str], prefetch: int) -> Consumer:
        q = self.queues.get(queue)
        if q is None:
            q = self.queues[queue] = _LocalQueue(bindings)
        else:
            q.bindings = list(bindings)
        return _LocalConsumer(q)

    async def delete_queue(self, queue: str) -> None:
        self.queues.pop(queue, None)

    async def publish_live(self, updates: Sequence[LiveUpdate], *,
                           others_only: bool = False) -> None:
        if updates and not others_only:  # one process: there are no other nodes
            for handler in list(self.live_handlers):
                await handler(list(updates))

    async def subscribe_live(self, handler: LiveHandler) -> None:
        self.live_handlers.append(handler)

    async def subscribe_events(self, bindings: Sequence[str], handler: BatchHandler) -> None:
        self.event_handlers.append((list(bindings), handler))
