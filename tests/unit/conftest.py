"""Shared fixtures: a real EventStore over SQLite in a temp file, a fake password hasher,
and a registered owner with a channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.channel import Channel
from domain.user import User
from infra.event_store import EventStore

from .support import FakeHasher, World


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    es = EventStore({
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "events.sqlite"),
    })
    try:
        yield es
    finally:
        es.close()


@pytest.fixture
def hasher() -> FakeHasher:
    return FakeHasher()


@pytest.fixture
def world(store: EventStore, hasher: FakeHasher) -> World:
    return World(store=store, hasher=hasher)


@pytest.fixture
def owner(world: World) -> User:
    return world.user("owner")


@pytest.fixture
def channel(world: World, owner: User) -> Channel:
    return world.channel(owner, "owner-tv")
