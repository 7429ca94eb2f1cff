"""The compiled mapper stores every event class exactly as the library's own mapper and
transcoder would: the same topic, ids and bytes, whatever the values."""

from __future__ import annotations

import dataclasses
import random
import typing
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)

from domain.catalogue import EVENT_CLASSES
from domain.chat import ChatMessage
from domain.stream import StreamStatus
from infra.eventstore.mapper import CompiledMapper, stored_event
from infra.eventstore.transcoder import MsgspecTranscoder


def library_mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def compiled_mapper() -> CompiledMapper:
    transcoder = MsgspecTranscoder()
    return CompiledMapper(transcoder=transcoder)


def a_value(hint: Any, rng: random.Random) -> Any:
    """A value of the declared type, or now and then one of another (which the compiled
    encoder must hand to the general path)."""
    if rng.random() < 0.1:
        return rng.choice(["text", 7, None, True, uuid4(), datetime(2026, 1, 2, 3, 4, 5),
                           float("nan"), Decimal("1.5"), StreamStatus.LIVE, [uuid4()],
                           {"k": uuid4()}, 2.5])
    args = typing.get_args(hint)
    if type(None) in args:
        if rng.random() < 0.3:
            return None
        hint = next(a for a in args if a is not type(None))
    origin = typing.get_origin(hint)
    if origin is list:
        return [a_value(typing.get_args(hint)[0], rng) for _ in range(rng.randint(0, 3))]
    if origin is dict:
        return {f"k{i}": a_value(typing.get_args(hint)[1], rng) for i in range(2)}
    if hint is UUID:
        return uuid4()
    if hint is datetime:
        return datetime.now(UTC) + timedelta(microseconds=rng.choice((0, 1, 999_999)))
    if hint is str:
        return rng.choice(["", "plain", "\u00fc\u2028 \"q\" \\ \n", "\U0001f600"])
    if hint is int:
        return rng.choice((0, -1, 2**70, 5))
    if hint is bool:
        return rng.random() < 0.5
    if hint is float:
        return rng.choice((0.5, 1e300, -0.0, float("inf")))
    return rng.choice(["any", 1, None, [1, "a"], {"x": 1}])


def an_event(cls: type, rng: random.Random) -> Any:
    hints = typing.get_type_hints(cls)
    values = {f.name: a_value(hints.get(f.name), rng) for f in dataclasses.fields(cls)}
    values["originator_id"] = uuid4()
    values["originator_version"] = rng.randint(1, 10)
    return cls(**values)


def same(ours: StoredEvent, theirs: StoredEvent) -> None:
    assert type(ours) is StoredEvent
    assert (ours.originator_id, ours.originator_version, ours.topic) == (
        theirs.originator_id, theirs.originator_version, theirs.topic)
    assert ours.state == theirs.state
    assert ours == theirs


@pytest.mark.parametrize("name", sorted(EVENT_CLASSES))
def test_every_event_class_is_stored_as_the_library_stores_it(name: str) -> None:
    cls = EVENT_CLASSES[name]
    ours, theirs = compiled_mapper(), library_mapper()
    rng = random.Random(name)
    for _ in range(40):
        event = an_event(cls, rng)
        same(ours.to_stored_event(event), theirs.to_stored_event(event))
    assert ours._encoders[cls] is not None  # the compiled way was the one taken


def test_a_chat_message_is_stored_the_library_way_and_read_back() -> None:
    message = ChatMessage.sent(stream_id=uuid4(), channel_id=uuid4(), author_id=uuid4(),
                               username="bob", display_name="Bob", badges=["moderator"],
                               content="h\u00e9llo")
    event = message.pending_events[0]
    ours, theirs = compiled_mapper(), library_mapper()
    stored = ours.to_stored_event(event)
    same(stored, theirs.to_stored_event(event))
    assert theirs.to_domain_event(stored) == event


def test_other_times_and_extra_attributes_go_the_library_way() -> None:
    ours, theirs = compiled_mapper(), library_mapper()
    message = ChatMessage.sent(stream_id=uuid4(), channel_id=uuid4(), author_id=uuid4(),
                               username="bob", display_name="Bob", badges=[], content="x")
    event = message.pending_events[0]
    for when in (datetime(2026, 1, 2, 3, 4, 5, 6), datetime(
            2026, 1, 2, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))):
        object.__setattr__(event, "timestamp", when)
        same(ours.to_stored_event(event), theirs.to_stored_event(event))
    object.__setattr__(event, "trace", {"id": "abc"})  # an attribute no field declares
    same(ours.to_stored_event(event), theirs.to_stored_event(event))


def test_a_compressing_mapper_never_takes_the_compiled_way() -> None:
    message = ChatMessage.sent(stream_id=uuid4(), channel_id=uuid4(), author_id=uuid4(),
                               username="bob", display_name="Bob", badges=[], content="x")
    event = message.pending_events[0]
    ours = CompiledMapper(transcoder=MsgspecTranscoder(), compressor=ZlibCompressor())
    theirs = library_mapper()
    theirs.compressor = ZlibCompressor()
    assert ours.to_domain_event(ours.to_stored_event(event)) == event
    assert ours._encoders[type(event)] is None
    assert theirs.to_domain_event(ours.to_stored_event(event)) == event


def test_a_stored_event_made_at_once_is_the_dataclass() -> None:
    oid = uuid4()
    assert stored_event(oid, 3, "t", b"{}") == StoredEvent(
        originator_id=oid, originator_version=3, topic="t", state=b"{}")
