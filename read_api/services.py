"""What the HTTP and socket layer needs of the process's services: the composition root
(`entrypoints.bootstrap.Services`) builds a subclass, and nothing here depends on how.

A base class, not a Protocol: Litestar checks each injected value with isinstance, which
is a cached subclass check here and an attribute-by-attribute one for a Protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from commands.bus import CommandBus
from commands.chat_refusals import RefusalTally
from commands.group_commit import GroupCommitter
from commands.ingest_lifecycle import IngestLifecycle
from commands.ports import PasswordHasher
from commands.send_message import MessageSent, SendMessage
from domain.errors import DomainError
from infra.eventstore.event_store import EventStore
from infra.identity.auth import Authenticator, LocalTokens
from infra.messaging.bus import EventBus
from infra.readstore.database import Database
from infra.runtime.supervisor import Supervisor
from infra.settings import Settings
from infra.shared_state.presence import Presence
from infra.shared_state.rate_limit import ChatRateLimiter
from infra.storage.objects import Storage
from projections.base import Projection
from read_api.async_ports import Identities
from read_api.consistency import PositionBoard
from read_api.operations import ProcessState, RunnerState
from read_api.reads import Aggregates, ReadModels

T = TypeVar("T")


class Services:
    settings: Settings
    commands: CommandBus
    identities: Identities
    process: ProcessState
    reads: ReadModels
    aggregates: Aggregates
    store: EventStore
    db: Database
    bus: EventBus
    positions: PositionBoard
    presence: Presence
    rate_limiter: ChatRateLimiter
    authenticator: Authenticator
    tokens: LocalTokens
    hasher: PasswordHasher
    storage: Storage
    ingest: IngestLifecycle
    supervisor: Supervisor
    projections: list[Projection]
    runners: Mapping[str, RunnerState]
    relay: object | None
    started: bool
    chat: GroupCommitter[SendMessage, MessageSent | DomainError]
    chat_listeners: list[Callable[[list[MessageSent]], None]]
    refusals: RefusalTally

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs blocking work off the event loop (commands retried on a lost race)."""
        raise NotImplementedError

    def spawn(self, name: str, run: Callable[[Any], Any]) -> None:
        """Runs `run(stopping)` under the process's supervisor."""
        raise NotImplementedError
