"""The EventStore adapter over SQLite: typed loads, atomic saves, optimistic concurrency,
listeners and filtered reads."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import EventStore as LibraryEventStore

from domain.channel import Channel
from domain.errors import Conflict, NotFound
from domain.stream import Stream
from domain.unique_name import UniqueName
from domain.user import User
from infra.eventstore.event_store import AeThex, EventStore

from .support import World


def test_get_of_an_unknown_id_is_not_found(store: EventStore) -> None:
    with pytest.raises(NotFound) as info:
        store.get(uuid4(), Channel)
    assert "channel" in info.value.message
    with pytest.raises(NotFound) as info:
        store.get(uuid4(), User, what="user")
    assert info.value.message.startswith("user ")
    assert store.find(uuid4(), Stream) is None


def test_get_of_the_wrong_kind_is_not_found(store: EventStore, owner: User) -> None:
    assert store.get(owner.id, User).username == "owner"
    with pytest.raises(NotFound):
        store.get(owner.id, Channel)
    assert store.find(owner.id, Stream) is None


def test_save_is_atomic_and_returns_the_last_position(store: EventStore) -> None:
    assert store.head() == 0
    a = UniqueName.claim("slug", "a", uuid4())
    b = UniqueName.claim("slug", "b", uuid4())
    assert store.save(a, b) == 2
    assert store.head() == 2
    # A second claim on "b" fails, and takes the claim on "c" down with it.
    c = UniqueName.claim("slug", "c", uuid4())
    with pytest.raises(Conflict):
        store.save(c, UniqueName.claim("slug", "B", uuid4()))
    assert store.head() == 2
    assert store.find(c.id, UniqueName) is None


def test_saving_nothing_returns_zero(store: EventStore, channel: Channel) -> None:
    head = store.head()
    loaded = store.get(channel.id, Channel)
    assert store.save(loaded) == 0
    assert store.save_each(loaded) == [0]
    assert store.head() == head


def test_stale_aggregate_is_a_conflict(store: EventStore, channel: Channel) -> None:
    first = store.get(channel.id, Channel)
    second = store.get(channel.id, Channel)
    first.go_live(uuid4())
    store.save(first)
    second.go_live(uuid4())  # decided on stale state: the channel looked free
    with pytest.raises(Conflict):
        store.save(second)
    assert store.get(channel.id, Channel).current_stream_id == first.current_stream_id


def test_a_failed_save_keeps_the_pending_events_for_another(store: EventStore,
                                                            channel: Channel) -> None:
    """The library takes an aggregate's pending events before it writes them: a save that
    fails must put them back, or saving the same aggregates again stores nothing."""
    stale = store.get(channel.id, Channel)
    fresh = store.get(channel.id, Channel)
    fresh.go_live(uuid4())
    store.save(fresh)
    stale.go_live(uuid4())
    user = User(email="x@example.com", username="someone", display_name="Someone",
                password_hash="h")
    with pytest.raises(Conflict):
        store.save_each(user, stale)
    assert len(user.pending_events) == 1 and len(stale.pending_events) == 1
    assert store.find(user.id, User) is None
    assert store.save_each(user) == [store.head()]
    assert store.get(user.id, User).username == "someone"


def test_save_each_gives_each_aggregates_last_position_in_order(store: EventStore) -> None:
    head = store.head()
    a = UniqueName.claim("slug", "a", uuid4())
    c = Channel(owner_id=uuid4(), slug="ccc", name="c", description="", category="x",
                tags=[], is_public=True, stream_key="k")
    c.go_live(uuid4())  # two events for c
    assert store.save_each(c, a) == [head + 2, head + 3]


def test_listeners_hear_each_save_once_with_its_position(store: EventStore) -> None:
    heard: list[int] = []
    store.on_saved(heard.append)
    p1 = store.save(UniqueName.claim("slug", "a", uuid4()))
    store.save_each(
        UniqueName.claim("slug", "b", uuid4()), UniqueName.claim("slug", "c", uuid4())
    )
    store.save(store.get(UniqueName.create_id("slug", "a"), UniqueName))  # nothing to save
    assert heard == [p1, p1 + 2]


def test_read_pages_and_filters(store: EventStore, world: World, channel: Channel) -> None:
    world.live_stream(channel)
    everything, upto = store.read(0, 1000)
    assert [e.position for e in everything] == list(range(1, store.head() + 1))
    assert upto == store.head()

    page, upto = store.read(2, 3)
    assert [e.position for e in page] == [3, 4, 5]
    assert upto == 5

    only, upto = store.read(0, 1000, types=["Stream.Started", "Channel.WentLive"])
    assert sorted(e.type for e in only) == ["Channel.WentLive", "Stream.Started"]
    assert upto == max(e.position for e in only)


def test_read_with_stop_reports_the_stop_as_scanned(store: EventStore, channel: Channel) -> None:
    head = store.head()
    events, upto = store.read(0, 1000, types=["Stream.Started"], stop=head)
    assert events == []
    assert upto == head  # nothing of that type up to `head`, and all of it was scanned
    events, upto = store.read(0, 2, stop=head)
    assert [e.position for e in events] == [1, 2]
    assert upto == 2  # a full page: only scanned up to its last event


# The library's `Application.save`, `Application._record` and event store `put` that
# `AeThex.save` and `AeThex.append` follow, as of the pinned version.
PINNED_SAVE = ("9.5.6", "4e9747d14b8fd046", "104c6186b29d5059", "7cbbe45730a0d3b9")


def test_the_save_override_is_pinned_to_the_library_it_copies() -> None:
    """`AeThex.save` reuses the library's private steps; a new eventsourcing release whose
    `save`, `_record` or `put` differs must fail here until the override is checked
    against it."""
    bodies = tuple(hashlib.sha256(inspect.getsource(f).encode()).hexdigest()[:16]
                   for f in (Application.save, Application._record, LibraryEventStore.put))
    assert (importlib.metadata.version("eventsourcing"), *bodies) == PINNED_SAVE
    for step in ("_record", "_take_snapshots", "_notify", "notify"):
        assert callable(getattr(Application, step))


def test_the_save_override_records_what_the_library_save_would(store: EventStore) -> None:
    """Same events, same order, same positions, with the override as with the library's
    own `save` on the same application."""
    first, second = UniqueName.claim("k", "a", uuid4()), UniqueName.claim("k", "b", uuid4())
    ours = store.app.save(first)
    theirs = Application.save(store.app, second)
    assert [r.notification.id for r in theirs] == [ours[-1].notification.id + 1]
    assert store.find(first.id, UniqueName) is not None
    assert store.find(second.id, UniqueName) is not None


def test_recordings_name_what_was_stored(store: EventStore) -> None:
    """The override's recordings are the library's: each event with its notification,
    as the log holds it."""
    claim = UniqueName.claim("k", "c", uuid4())
    event = claim.pending_events[0]
    [recording] = store.app.save(claim)
    stored = store.app.recorder.select_notifications(start=recording.notification.id,
                                                     limit=1)
    assert recording.domain_event is event and [recording.notification] == stored


def test_append_hands_recordings_to_a_subclass_that_wants_them(store: EventStore) -> None:
    heard: list[Any] = []

    class Listening(AeThex):
        def _notify(self, recordings: list[Any]) -> None:
            heard.extend(recordings)

    app = Listening(env=dict(store.app.env))
    try:
        claim = UniqueName.claim("k", "d", uuid4())
        positions, appended = app.append(claim, UniqueName.claim("k", "e", uuid4()))
        assert appended == 2 and [r.notification.id for r in heard] == positions
        assert heard[0].notification.originator_id == claim.id
    finally:
        app.close()
