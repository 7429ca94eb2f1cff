"""What routes set going besides a command: an ingest signal through the ingest lifecycle,
and live updates to every node. Concrete classes, not the ports they wrap: Litestar checks
each injected value with isinstance, which a plain Protocol refuses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from commands.bus import retrying
from commands.ingest_key import channel_for_key
from commands.ingest_lifecycle import IngestLifecycle, Outcome
from commands.ports import IngestSignal
from domain.channel import Channel
from infra.bus import EventBus, LiveUpdate

T = TypeVar("T")


class IngestSignals:
    """The ingest lifecycle for the webhook routes: blocking, so run off the event loop,
    counted by function name and retried on a lost race, as every command is."""

    def __init__(self, lifecycle: IngestLifecycle,
                 on_command: Callable[[str], None] | None = None) -> None:
        self.lifecycle = lifecycle
        self._on_command = on_command

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._on_command is not None:
            self._on_command(fn.__name__)
        return await retrying(fn, *args, **kwargs)

    async def apply(self, signal: IngestSignal, *, channel_id: UUID | None = None,
                    stream_id: UUID | None = None) -> Outcome:
        """What the notification did (a duplicate does nothing)."""
        return await self._run(self.lifecycle.apply, signal, channel_id=channel_id,
                               stream_id=stream_id)

    async def channel_for_key(self, stream_key: str, *, current_only: bool = True) -> Channel:
        """The channel an encoder's stream key names (Forbidden for any other key)."""
        return await self._run(channel_for_key, self.lifecycle.store, stream_key,
                               current_only=current_only)


class LiveUpdates:
    """Pushes updates to rooms on every API node (the event bus's live fan-out)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def publish(self, updates: Sequence[LiveUpdate]) -> None:
        await self._bus.publish_live(updates)
