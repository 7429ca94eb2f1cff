"""The event store's write path on both modes: a batch appended by COPY (PostgreSQL) keeps
the log's positions and optimistic concurrency, and what we store stays the library's own
format: a plain `eventsourcing` application, with none of our settings, reads it back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder
from psycopg.pq import Trace

from commands.ban_user import BanUser, ban_user
from commands.send_message import Author, SendMessage, send_messages
from domain.channel import Channel
from domain.chat import ChatMessage
from domain.errors import ConcurrentChange
from entrypoints.bootstrap import open_read_db
from infra.eventstore.event_store import EventStore
from infra.eventstore.pg_recorder import CopyingRecorder
from infra.settings import Settings
from tests.harness import (
    drop_namespace,
    embedded_settings,
    new_namespace,
    production_settings,
    require_services,
)
from tests.unit.support import FakeHasher, World


@pytest.fixture(params=["embedded", "production"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "embedded":
        yield embedded_settings(tmp_path)
        return
    require_services()
    namespace = new_namespace()
    try:
        yield production_settings(tmp_path, namespace)
    finally:
        drop_namespace(namespace)


@pytest.fixture
def store(settings: Settings) -> Iterator[EventStore]:
    open_read_db(settings).close()  # creates the namespace's schema, as a process does
    es = EventStore(settings.eventsourcing_env())
    try:
        yield es
    finally:
        es.close()


def library_app(settings: Settings) -> Application[UUID]:
    """The library's own application over our tables: its default transcoder, mapper and
    recorder (none of our environment but where the events are)."""
    env = {k: v for k, v in settings.eventsourcing_env().items()
           if k not in ("APPLICATION_RECORDER_TOPIC", "TRANSCODER_TOPIC")
           and not k.startswith("AGGREGATE_CACHE")}
    app_class = type("AeThex", (Application,), {})  # the same name: the same table
    return app_class(env=env)


def messages(world: World, n: int) -> tuple[Channel, list[ChatMessage]]:
    owner = world.user("owner")
    channel = world.channel(owner, "owner-tv")
    stream = world.live_stream(channel)
    return channel, [ChatMessage.sent(stream_id=stream.id, channel_id=channel.id,
                                      author_id=owner.id, username="owner",
                                      display_name="Owner", badges=[], content=f"m{i}")
                     for i in range(n)]


def log(store: EventStore) -> list[Any]:
    return list(store.app.recorder.select_notifications(start=1, limit=10_000))


def test_a_batch_gets_consecutive_positions_in_the_log(settings: Settings,
                                                      store: EventStore) -> None:
    world = World(store=store, hasher=FakeHasher())
    n = CopyingRecorder.copy_from + 10  # by COPY on PostgreSQL
    _, batch = messages(world, n)
    if settings.production:
        assert isinstance(store.app.recorder, CopyingRecorder)
    before = store.head()
    positions = dict(zip((m.id for m in batch), store.save_each(*batch), strict=True))
    after_batch = store.head()
    single = ChatMessage.sent(stream_id=batch[0].stream_id, channel_id=batch[0].channel_id,
                              author_id=batch[0].author_id, username="owner",
                              display_name="Owner", badges=[], content="after")
    last = store.save(single)  # one event: the library's INSERT

    assert [positions[m.id] for m in batch] == list(range(before + 1, before + n + 1))
    assert after_batch == before + n and last == after_batch + 1 == store.head()
    by_position = {n.id: (n.originator_id, n.originator_version) for n in log(store)}
    assert all(by_position[positions[m.id]] == (m.id, 1) for m in batch)
    assert by_position[last] == (single.id, 1)
    # Read back through our decoder: in order, each message where its answer said.
    envelopes, _ = store.read(before, 1000)
    assert [(e.position, e.aggregate_id, e.data["content"]) for e in envelopes] == [
        *((positions[m.id], str(m.id), m.content) for m in batch),
        (last, str(single.id), "after")]
    # Filtered, page by page up to a stop, from the start: the same messages.
    paged, position = [], 0
    while position < last:
        page, position = store.read(position, 70, types=("ChatMessage.Sent",), stop=last)
        paged.extend(page)
    assert paged == envelopes


def test_a_stale_aggregate_fails_the_whole_batch(settings: Settings, store: EventStore) -> None:
    world = World(store=store, hasher=FakeHasher())
    channel, batch = messages(world, CopyingRecorder.copy_from + 10)
    stale = store.get(channel.id, Channel)
    fresh = store.get(channel.id, Channel)
    fresh.update(name="renamed first")  # saved first: `stale` now conflicts
    store.save(fresh)
    stale.update(name="renamed second")
    head = store.head()

    with pytest.raises(ConcurrentChange):
        store.save_each(*batch, stale)
    assert store.head() == head  # nothing of the batch was stored
    assert store.find(batch[0].id, ChatMessage) is None
    # The same messages, without the stale channel, are stored whole, in one run (after
    # a gap on PostgreSQL: a sequence does not roll back, with COPY as with INSERT).
    positions = sorted(store.save_each(*batch))
    assert positions == list(range(positions[0], positions[0] + len(batch)))
    assert positions[0] > head and positions[-1] == store.head()


def test_the_library_reads_what_we_store(settings: Settings, store: EventStore) -> None:
    world = World(store=store, hasher=FakeHasher())
    owner = world.user("owner")
    viewer = world.user("viewer")
    channel = world.channel(owner, "owner-tv")
    stream = world.live_stream(channel)
    author = Author(id=viewer.id, username="viewer", display_name="Viewer")
    results = send_messages([SendMessage(stream_id=stream.id, author=author,
                                         content=f"hello ü {i}")
                             for i in range(CopyingRecorder.copy_from + 10)], store)
    assert not any(isinstance(r, Exception) for r in results)
    ban_user(BanUser(actor_id=owner.id, channel_id=channel.id, user_id=viewer.id,
                     reason="spam", duration_s=60), store)
    ours = log(store)
    assert len(ours) > 45

    app = library_app(settings)
    try:
        theirs: list[Any] = []  # the log, section by section, as the library reads it
        while page := app.notification_log.select(
                start=theirs[-1].id + 1 if theirs else 1, limit=app.log_section_size):
            theirs.extend(page)
        assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state)
                for n in theirs] == [(n.id, n.originator_id, n.originator_version, n.topic,
                                      n.state) for n in ours]
        plain = JSONTranscoder()
        app.register_transcodings(plain)
        for notification in theirs:
            event = app.mapper.to_domain_event(notification)
            assert event.originator_id == notification.originator_id
            # Byte for byte what the library's own transcoder writes for that event.
            state = dict(vars(event))
            del state["originator_id"], state["originator_version"]
            if getattr(type(event), "class_version", 1) > 1:
                state["class_version"] = type(event).class_version
            assert plain.encode(state) == notification.state
        # Aggregates, replayed by the library, equal ours.
        for ident in {n.originator_id for n in theirs}:
            library_state = vars(app.repository.get(ident))
            our_state = vars(store.app.repository.get(ident))
            assert library_state == our_state
        message = app.repository.get(results[0].message.id)  # type: ignore[union-attr]
        assert isinstance(message, ChatMessage) and message.content == "hello ü 0"
        assert app.repository.get(channel.id).banned_until(viewer.id, message.created_on)[0]
    finally:
        app.close()


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[EventStore]:
    """The event store on PostgreSQL only (SQLite has no table lock to hold)."""
    require_services()
    namespace = new_namespace()
    try:
        settings = production_settings(tmp_path, namespace)
        open_read_db(settings).close()
        es = EventStore(settings.eventsourcing_env())
        try:
            yield es
        finally:
            es.close()
    finally:
        drop_namespace(namespace)


def test_a_small_batch_is_sent_whole_before_any_answer_is_read(
        pg_store: EventStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table lock is held while the server works, never while the client is away: the
    COMMIT leaves with the BEGIN, the lock and the INSERT, before the first answer is read
    (libpq's own trace of the connection's messages, in order)."""
    store = pg_store
    world = World(store=store, hasher=FakeHasher())
    _, batch = messages(world, 3)
    datastore = store.app.recorder.datastore
    real = datastore.get_connection
    trace = tmp_path / "libpq.trace"

    @contextmanager
    def traced() -> Iterator[Any]:
        with real() as conn, trace.open("w") as out:
            conn.pgconn.trace(out.fileno())
            conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
            try:
                yield conn
            finally:
                conn.pgconn.untrace()

    monkeypatch.setattr(datastore, "get_connection", traced)
    head = store.head()
    positions = store.save_each(*batch)
    monkeypatch.undo()

    assert positions == list(range(head + 1, head + 4))
    lines = trace.read_text().splitlines()
    sent = [i for i, line in enumerate(lines) if line.startswith("F")]
    answered = [i for i, line in enumerate(lines) if line.startswith("B")]
    commit = next(i for i in sent if '"COMMIT"' in lines[i])
    lock = next(i for i in sent if "LOCK TABLE" in lines[i])
    insert = next(i for i in sent if "INSERT INTO" in lines[i])
    assert lock < insert < commit < answered[0], "\n".join(lines)


def test_a_small_batch_with_a_stale_aggregate_stores_nothing(settings: Settings,
                                                             store: EventStore) -> None:
    """The one-trip INSERT keeps optimistic concurrency: the duplicate version fails the
    whole transaction, which is rolled back, and the connection serves the next save."""
    world = World(store=store, hasher=FakeHasher())
    channel, batch = messages(world, 3)
    stale = store.get(channel.id, Channel)
    fresh = store.get(channel.id, Channel)
    fresh.update(name="renamed first")
    store.save(fresh)
    stale.update(name="renamed second")
    head = store.head()

    for _ in range(3):  # again and again: no connection is left in a failed transaction
        with pytest.raises(ConcurrentChange):
            store.save_each(*batch, stale)
        assert store.head() == head
    assert store.find(batch[0].id, ChatMessage) is None
    positions = store.save_each(*batch)
    assert len(positions) == 3 and max(positions) == store.head()


def visible_head(store: EventStore) -> int:
    """The log's head as another session sees it (committed rows only)."""
    recorder = store.app.recorder
    with recorder.datastore.get_connection() as conn:
        row = conn.execute(f'SELECT max(notification_id) AS head FROM '
                           f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
                           ).fetchone()
        assert row is not None
        return row["head"] or 0


def test_a_save_begun_is_stored_only_when_finished_and_others_wait_behind_it(
        pg_store: EventStore) -> None:
    """The group commit begins a batch's save on its writer thread and finishes it on
    another: nothing is visible until then, a save from elsewhere meanwhile waits for
    the lock and lands after it, and the positions are the ones the log holds."""
    store = pg_store
    world = World(store=store, hasher=FakeHasher())
    _, batch = messages(world, CopyingRecorder.copy_from + 5)
    head = store.head()
    heard: list[int] = []
    store.on_saved(heard.append)
    saving = store.start_save_each(*batch)
    assert visible_head(store) == head and heard == []

    other = ChatMessage.sent(stream_id=batch[0].stream_id, channel_id=batch[0].channel_id,
                             author_id=batch[0].author_id, username="owner",
                             display_name="Owner", badges=[], content="meanwhile")
    later: list[int] = []
    writer = threading.Thread(target=lambda: later.append(store.save(other)))
    writer.start()
    writer.join(0.3)
    assert writer.is_alive() and later == []  # held at the lock the batch holds

    finished: list[list[int]] = []
    finisher = threading.Thread(target=lambda: finished.append(saving()))
    finisher.start()
    finisher.join(30)
    writer.join(30)
    [positions] = finished
    assert positions == list(range(head + 1, head + len(batch) + 1))
    assert later == [head + len(batch) + 1] == [store.head()]
    by_position = {n.id: n.originator_id for n in log(store)}
    assert [by_position[p] for p in positions] == [m.id for m in batch]
    assert heard[0] == positions[-1]


def test_a_connection_lost_before_the_answer_stores_the_batch_once(
        pg_store: EventStore) -> None:
    """The server drops the connection between the rows and the COMMIT (a restart): the
    begun transaction is gone, and finishing sends the batch again on a new connection,
    so it is stored, once."""
    store = pg_store
    world = World(store=store, hasher=FakeHasher())
    _, batch = messages(world, CopyingRecorder.copy_from + 5)
    head = store.head()
    datastore = store.app.recorder.datastore
    real = datastore.get_connection
    pids: list[int] = []

    @contextmanager
    def remembered() -> Iterator[Any]:
        with real() as conn:
            pids.append(conn.info.backend_pid)
            yield conn

    datastore.get_connection = remembered  # type: ignore[method-assign]
    try:
        saving = store.start_save_each(*batch)
    finally:
        del datastore.get_connection
    with real() as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pids[-1],))
    positions = saving()
    assert len(positions) == len(batch) and positions[-1] == store.head()
    # Sent again: the first reservation went with its transaction (a sequence never
    # rolls back), so the batch stands after it.
    assert positions[0] > head + len(batch)
    stored = [n for n in log(store) if n.id > head]
    assert sorted(n.originator_id for n in stored) == sorted(m.id for m in batch)
