"""What command handlers need from the outside, as protocols (the event store adapter
implements `Store`; tests may pass it over SQLite in memory)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Literal, Protocol, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")


class Begun(Generic[T]):
    """Work begun whose end may wait for the database: calling it ends the work (once,
    from any thread) and gives its result. `ready` says the call will not wait: the work
    is already done (a batch too small to save in two steps, a store without them)."""

    __slots__ = ("_end", "ready")

    def __init__(self, end: Callable[[], T], *, ready: bool = False) -> None:
        self._end = end
        self.ready = ready

    def __call__(self) -> T:
        return self._end()

    @classmethod
    def done(cls, value: T) -> Begun[T]:
        return cls(lambda: value, ready=True)


class Store(Protocol):
    def get(self, aggregate_id: UUID, kind: type[A], *, what: str | None = None) -> A: ...
    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None: ...
    def save(self, *aggregates: Aggregate) -> int: ...
    def save_each(self, *aggregates: Aggregate) -> list[int]: ...
    def start_save_each(self, *aggregates: Aggregate) -> Begun[list[int]]: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...


# `starting`: the provider has the encoder but nothing is playable yet; `connected`: playable.
Kind = Literal["starting", "connected", "disconnected", "ended", "recording", "final_recording",
               "ignored"]


class IngestSignal(msgspec.Struct, frozen=True, kw_only=True):
    """One provider notification, normalised. `external_id` is the provider's live input
    (bound to a channel); `asset_id` names a recording the provider made of it."""

    provider: str
    event_id: str
    event_type: str
    kind: Kind
    external_id: str | None = None
    channel_hint: str | None = None
    playback_id: str | None = None
    asset_id: str | None = None
    vod_url: str | None = None
    recording_path: str | None = None
    thumbnail_url: str | None = None  # the provider's picture of a recording
    # How long the provider itself keeps a disconnected stream open (Mux's reconnect_window)
    provider_window_s: float | None = None


class SecretBox(Protocol):
    """Seals secrets before they are stored (webhook signing secrets), with a key the
    database does not hold; opens them where they are used."""

    def seal(self, plain: str) -> str: ...
    def open(self, sealed: str) -> str: ...
