"""This node's live feed: every room update, from whichever path brings it first.

A chat message reaches the rooms of this node by up to three paths:
- this node committed it: pushed as soon as the group-commit transaction commits (the fast
  path), then published on the live exchange for the other nodes;
- another node committed it: that node's live copy;
- the relay: the stored event itself, read from the event exchange (the fallback, for when
  the committing node died before publishing, or the live copy was lost).
The first copy is delivered and the others are dropped by message id. Deletions, bans and
unbans come from the relayed event (each node tells its own rooms); stream status and
viewer counts from the `stream_status` read model once it has reached the relayed event;
joins and typing from the live exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from commands.send_message import MessageSent
from infra.eventstore.envelope import EventBatch
from infra.messaging.bus import EventBus, LiveUpdate
from infra.observability import tracing
from infra.runtime.supervisor import Supervised, Supervisor
from read_api.realtime.presenters import (
    BAN_TYPES,
    CHAT_DELETED,
    CHAT_MESSAGE,
    CHAT_TYPES,
    STREAM_TYPES,
    BanChange,
    StreamChange,
    ban_changes,
    chat_updates,
    committed_updates,
    status_view,
    stream_changes,
    viewers_view,
)
from read_api.realtime.recent import RecentMessages, SeenIds

log = structlog.get_logger(__name__)

Deliver = Callable[[Sequence[LiveUpdate]], None]
StreamReader = Callable[[str], Any]  # async: stream id -> its read-model view or None
# async: channel id -> the id of its live stream (the room its bans are told to) or None
ChannelStreamReader = Callable[[str], Any]


class LiveFeed:
    """Admits each update once, keeps rooms' recent messages, and hands the rest on."""

    PRUNE_S = 10.0

    def __init__(self, bus: EventBus, deliver: Deliver, read_stream: StreamReader,
                 wait_for_stream: Callable[[int], Any], *, has_room: Callable[[str], bool],
                 stream_of_channel: ChannelStreamReader | None = None,
                 history_size: int = 50) -> None:
        self.bus = bus
        self._deliver = deliver
        self._read_stream = read_stream
        self._wait_for_stream = wait_for_stream
        self._has_room = has_room
        self._stream_of_channel = stream_of_channel
        self.seen = SeenIds()
        self.recent = RecentMessages(per_room=max(history_size * 10, 100))
        self._outbox: asyncio.Queue[list[LiveUpdate]] = asyncio.Queue()
        self._stream_changes: asyncio.Queue[list[StreamChange | BanChange]] = asyncio.Queue()
        self._tasks: list[Supervised] = []
        self.counts = {"fast": 0, "live": 0, "relayed": 0, "dropped": 0}

    # -- the three paths ---------------------------------------------------------------

    def committed(self, results: Sequence[MessageSent]) -> None:
        """Messages this node has just committed (on the loop, once per batch)."""
        if tracing.ON:  # inside the batch's span (its context came with the callback)
            with tracing.span("live push", attributes={"aethex.messages": len(results)}):
                self._committed(results)
            return
        self._committed(results)

    def _committed(self, results: Sequence[MessageSent]) -> None:
        fresh = self._admit(committed_updates(results), "fast")
        if fresh:
            self._deliver(fresh)
            self._outbox.put_nowait(fresh)

    async def on_live(self, updates: list[LiveUpdate]) -> None:
        """The live exchange: other nodes' fast copies, and ephemeral updates."""
        fresh = self._admit(updates, "live")
        if fresh:
            self._deliver(fresh)

    async def on_events(self, batch: EventBatch) -> None:
        """The relayed events."""
        # Most relayed messages were delivered already (by their node's fast path): they
        # are dropped before a view is built for them.
        seen = self.seen
        unseen = [e for e in batch.events
                  if e.type != "ChatMessage.Sent" or e.aggregate_id not in seen]
        self.counts["dropped"] += len(batch.events) - len(unseen)
        fresh = self._admit(chat_updates(unseen), "relayed")
        if fresh:
            self._deliver(fresh)
        changes: list[StreamChange | BanChange] = [*stream_changes(batch.events)]
        # A ban relayed twice (a redelivery) is told once: known by its position.
        changes += [b for b in ban_changes(batch.events)
                    if self.seen.first_time(f"{b.event}@{b.position}")]
        if changes:
            self._stream_changes.put_nowait(sorted(changes, key=lambda c: c.position))

    def _admit(self, updates: Sequence[LiveUpdate], path: str) -> list[LiveUpdate]:
        fresh: list[LiveUpdate] = []
        for u in updates:
            if u.event == CHAT_MESSAGE:
                if not self.seen.first_time(u.data["id"]):
                    self.counts["dropped"] += 1
                    continue
                self.recent.add(u.stream_id, u.data)
                self.counts[path] += 1
            elif u.event == CHAT_DELETED:
                self.recent.remove(u.stream_id, u.data["messageId"])
            fresh.append(u)
        return fresh

    # -- running -----------------------------------------------------------------------

    async def start(self, supervisor: Supervisor | None = None) -> None:
        """Subscribes to the relayed events and starts the two loops, under `supervisor`
        (the process's; one of its own if none is given)."""
        await self.bus.subscribe_events(
            [f"{t}.*" for t in (*CHAT_TYPES, *STREAM_TYPES, *BAN_TYPES)], self.on_events)
        supervisor = supervisor or Supervisor()
        self._tasks = [supervisor.spawn("live-publish", self._publish_to_others, graceful=False),
                       supervisor.spawn("live-streams", self._present_streams, graceful=False)]

    async def stop(self) -> None:
        for task in self._tasks:
            await task.stop()
        self._tasks = []

    async def _publish_to_others(self) -> None:
        """One publisher, so other nodes hear this node's messages in commit order."""
        unpublished = 0  # updates not published since the broker went away
        while True:
            updates = await self._outbox.get()
            while not self._outbox.empty():
                updates.extend(self._outbox.get_nowait())
            try:
                await self.bus.publish_live(updates, others_only=True)
            except Exception:
                # Other nodes still get these from the relay, a moment later. Said once
                # per outage (a broker restart would otherwise log every batch).
                if not unpublished:
                    log.warning("live.publish_failed", updates=len(updates), exc_info=True)
                unpublished += len(updates)
                continue
            if unpublished:
                log.info("live.publish_recovered", unpublished=unpublished)
                unpublished = 0

    async def _present_streams(self) -> None:
        """Stream status and viewer counts, from the read model once it has the event; bans,
        in the same order as the events."""
        while True:
            try:
                changes = await asyncio.wait_for(self._stream_changes.get(), self.PRUNE_S)
            except TimeoutError:
                self.recent.prune()
                continue
            while not self._stream_changes.empty():
                changes.extend(self._stream_changes.get_nowait())
            bans = [c for c in changes if isinstance(c, BanChange)]
            streams = [c for c in changes
                       if isinstance(c, StreamChange) and self._has_room(c.stream_id)]
            if bans:
                await self._push_bans(bans)
            if streams:
                await self._push_stream_changes(streams)

    async def _push_bans(self, bans: list[BanChange]) -> None:
        """Each ban to the room of its channel's live stream, if this node has that room
        (a channel with no live stream has no room to tell)."""
        if self._stream_of_channel is None:
            return
        rooms: dict[str, str | None] = {}
        updates: list[LiveUpdate] = []
        for b in bans:
            if b.channel_id not in rooms:
                try:
                    rooms[b.channel_id] = await self._stream_of_channel(b.channel_id)
                except Exception:
                    log.exception("live.channel_read_failed", channel_id=b.channel_id)
                    rooms[b.channel_id] = None
            stream_id = rooms[b.channel_id]
            if stream_id is not None and self._has_room(stream_id):
                updates.append(LiveUpdate(stream_id, b.event, b.view))
        if updates:
            self._deliver(updates)

    async def _push_stream_changes(self, changes: list[StreamChange]) -> None:
        """Each status change in order; viewer counts once per stream (the latest)."""
        try:
            await self._wait_for_stream(max(c.position for c in changes))
        except Exception:
            log.warning("live.stream_status_behind", exc_info=True)
        views: dict[str, Any] = {}
        for stream_id in dict.fromkeys(c.stream_id for c in changes):
            try:
                views[stream_id] = await self._read_stream(stream_id)
            except Exception:
                log.exception("live.stream_read_failed", stream_id=stream_id)
        last_viewers = {c.stream_id: c for c in changes if c.event == "stream:viewers"}
        updates: list[LiveUpdate] = []
        for c in changes:
            view = views.get(c.stream_id)
            if view is None:
                continue
            if c.event == "stream:status":
                updates.append(LiveUpdate(c.stream_id, c.event, status_view(view, c.status)))
            elif last_viewers[c.stream_id] is c:
                updates.append(LiveUpdate(c.stream_id, c.event, viewers_view(view)))
        if updates:
            self._deliver(updates)
