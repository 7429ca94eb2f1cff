"""Samples viewer counts from presence into the streams' events when they change.

One node samples at a time (a lease in Redis; always this node when embedded), at most
every `viewer_sample_s`, so peaks are exact in the event log and replayable."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol, TypeVar
from uuid import UUID

import structlog

from commands.bus import CommandBus
from commands.sample_viewer_count import SampleViewerCount
from domain.errors import DomainError
from infra.messaging.bus import EventBus, LiveUpdate
from infra.settings import Settings
from infra.shared_state.presence import Presence

log = structlog.get_logger(__name__)
T = TypeVar("T")


class Services(Protocol):
    """What the sampler needs of the process's services."""

    settings: Settings
    presence: Presence
    commands: CommandBus
    bus: EventBus


class PresenceSampler:
    def __init__(self, services: Services, node_id: str) -> None:
        self.services = services
        self.node_id = node_id
        self.interval_s = services.settings.viewer_sample_s

    async def sample_once(self) -> int:
        """Records every changed count; returns how many samples it recorded."""
        presence = self.services.presence
        recorded = 0
        for stream_id in await presence.active_streams():
            count = await presence.count(stream_id)
            # Users whose node died with their sockets open: nobody else will say they left.
            gone = await presence.lapsed(stream_id)
            if gone:
                await self.services.bus.publish_live([
                    LiveUpdate(stream_id, "chat:user-left", user) for user in gone])
            try:
                position = await self.services.commands.execute(
                    SampleViewerCount(stream_id=UUID(stream_id), count=count))
                recorded += position > 0
            except (DomainError, ValueError):
                await presence.forget_stream(stream_id)
                continue
            if count == 0:
                await presence.forget_stream(stream_id)
        return recorded

    async def run(self, stopping: asyncio.Event) -> None:
        """Samples every interval until `stopping` is set. A failed pass (Redis, the store)
        raises: the supervisor logs and counts it and runs this again after a backoff."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.interval_s)
            if stopping.is_set():
                return
            if await self.services.presence.try_lead("sampler", self.node_id,
                                                     self.interval_s * 3):
                await self.sample_once()
