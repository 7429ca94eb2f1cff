"""Fakes and a small world-builder shared by the unit tests (imported by conftest)."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from commands.create_channel import CreateChannel, create_channel
from commands.go_live import GoLive, go_live
from commands.grant_moderator import GrantModerator, grant_moderator
from commands.register_user import RegisterUser, register_user
from commands.send_message import Author, SendMessage, send_message
from domain.channel import Channel
from domain.chat import ChatMessage
from domain.stream import Stream
from domain.user import User
from infra.eventstore.envelope import EventEnvelope
from infra.eventstore.event_store import EventStore

PASSWORD = "correct horse battery"


def event_names(events: object) -> list[str]:
    """`["Stream.Started", ...]` for a list of domain events."""
    return [type(e).__qualname__ for e in events]  # type: ignore[attr-defined]


@dataclass
class FakeHasher:
    """A PasswordHasher that is reversible and records what it was asked to hash."""

    hashed: list[str] = field(default_factory=list)

    def hash(self, password: str) -> str:
        self.hashed.append(password)
        return "fake$" + password[::-1]

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "fake$" + password[::-1]


@dataclass
class World:
    """Builds users, channels, streams and messages through the real command handlers."""

    store: EventStore
    hasher: FakeHasher

    def user(self, username: str) -> User:
        cmd = RegisterUser(email=f"{username}@example.com", username=username, password=PASSWORD)
        return register_user(cmd, self.store, self.hasher).user

    def channel(self, owner: User, slug: str | None = None) -> Channel:
        slug = slug or f"{owner.username.replace('_', '-')}-tv"
        cmd = CreateChannel(owner_id=owner.id, slug=slug, name=f"{owner.username}'s channel")
        return create_channel(cmd, self.store).channel

    def live_stream(self, channel: Channel, title: str | None = None) -> Stream:
        cmd = GoLive(actor_id=channel.owner_id, channel_id=channel.id, title=title)
        return go_live(cmd, self.store).stream

    def grant(self, channel: Channel, user: User) -> None:
        grant_moderator(
            GrantModerator(actor_id=channel.owner_id, channel_id=channel.id, user_id=user.id),
            self.store,
        )

    def say(self, user: User, stream_id: UUID, content: str) -> ChatMessage:
        return send_message(
            SendMessage(stream_id=stream_id, author=author(user), content=content), self.store
        ).message

    def log(self, after: int = 0) -> list[EventEnvelope]:
        envelopes, _ = self.store.read(after, 100_000)
        return envelopes


def author(user: User) -> Author:
    return Author(id=user.id, username=user.username, display_name=user.display_name)
