"""The trace context stored beside an event: written at save time when tracing is on,
read back into the envelope, kept through export and import, invisible to the
`eventsourcing` library's own reading, and absent (None) for events stored without it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import msgspec
import pytest
from eventsourcing.application import Application

from domain.chat import ChatMessage
from infra.eventstore.envelope import EventBatch
from infra.eventstore.event_store import EventStore
from infra.observability import tracing
from infra.settings import Settings
from tests.receivers import CapturingServer, otlp_spans
from workers.replay import to_stored_event


def _message(content: str) -> ChatMessage:
    return ChatMessage(stream_id=uuid4(), channel_id=uuid4(), author_id=uuid4(),
                       username="ada", display_name="Ada", badges=[], content=content)


@pytest.fixture
def receiver() -> Iterator[CapturingServer]:
    with CapturingServer() as server:
        yield server


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "events.sqlite")}


def test_a_traced_save_stores_its_context_and_old_events_still_read(
        receiver: CapturingServer, sqlite_env: dict[str, str]) -> None:
    store = EventStore(sqlite_env)
    untraced = _message("before tracing")
    store.save(untraced)  # as every event stored before this existed
    tracing.start_tracing(Settings(otlp_endpoint=receiver.url), "test")
    try:
        traced = _message("traced")
        with tracing.span("a command") as span:
            store.save(traced)
            context = span.get_span_context()
        tracing.flush()
    finally:
        tracing.stop_tracing()
    expected = tracing.format_context(context)

    old, new = store.read(0, 10)[0]
    assert old.trace is None and new.trace == expected
    assert "traceparent" not in new.data  # metadata, not a field of the event
    assert new.data["content"] == "traced"
    # The exporter sent the span the event names.
    assert any(s.span_id == f"{context.span_id:016x}" for s in otlp_spans(receiver))

    # On the wire (relay batches) and in exports: only when there is one.
    encoded = msgspec.json.encode(EventBatch([old, new], new.position))
    assert encoded.count(b'"trace"') == 1
    assert msgspec.json.decode(encoded, type=EventBatch).events[1].trace == expected

    # The library reads both as it always did: the context is an attribute nobody asks for.
    plain = Application(env=sqlite_env)
    try:
        for message in (untraced, traced):
            loaded = plain.repository.get(message.id)
            assert loaded.content == message.content and loaded.version == 1
        stored = plain.recorder.select_notifications(start=1, limit=10)
        assert "traceparent" not in json.loads(stored[0].state)
        assert json.loads(stored[1].state)["traceparent"] == expected
    finally:
        plain.close()

    # The mapper's path (used for upcasting and ciphers) keeps it too, and an import of an
    # export stores it again.
    again = to_stored_event(new, store)
    assert json.loads(again.state)["traceparent"] == expected
    store.close()


def test_without_tracing_nothing_is_stamped(sqlite_env: dict[str, str]) -> None:
    assert not tracing.ON
    store = EventStore(sqlite_env)
    try:
        with tracing.span("ignored") as span:
            assert span is None
            store.save(_message("plain"))
        [event], _ = store.read(0, 10)
        assert event.trace is None
        assert tracing.current() is None
        with tracing.spans("ignored", parents=["00-" + "1" * 32 + "-" + "2" * 16 + "-01"]) as made:
            assert made == {}  # off: no span, no header
        assert tracing.message_headers([]) is None
    finally:
        store.close()


def test_malformed_contexts_are_ignored() -> None:
    for bad in (None, "", "garbage", "01-" + "a" * 32 + "-" + "b" * 16 + "-01",
                "00-" + "0" * 32 + "-" + "b" * 16 + "-01", "00-" + "z" * 32 + "-" + "b" * 16
                + "-01"):
        assert tracing.parse(bad) is None
    ctx = tracing.parse("00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    assert ctx is not None and ctx.is_remote and tracing.format_context(ctx).endswith("-01")
