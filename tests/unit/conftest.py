"""Shared fixtures: a real EventStore (in memory, the library's POPO recorders; over SQLite
in a temp file for a test marked `on_disk`, which reads it from another process), a fake
password hasher, and a registered owner with a channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.group_commit import GroupCommitter
from domain.channel import Channel
from domain.user import User
from infra.eventstore.event_store import EventStore

from .group_commit_support import Recorder
from .support import FakeHasher, World


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.node.get_closest_marker("on_disk"):
        es = EventStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.sqlite")})
    else:
        es = EventStore({"PERSISTENCE_MODULE": "eventsourcing.popo"})
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


# GroupCommitter tests (test_group_commit, test_group_commit_async)
@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def committer(recorder: Recorder) -> Iterator[GroupCommitter[int, int]]:
    gc: GroupCommitter[int, int] = GroupCommitter(recorder, window_s=0.005)
    yield gc
    gc.close()
