"""The msgspec transcoder writes the bytes the library's own `JSONTranscoder` writes, reads
what either writes into the same values, and refuses what the library refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from domain.stream import StreamStatus
from infra.eventstore.transcoder import MsgspecTranscoder


def library() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


STATES: list[dict[str, Any]] = [
    {"timestamp": datetime.now(UTC), "originator_topic": "domain.chat:ChatMessage",
     "stream_id": uuid4(), "channel_id": uuid4(), "author_id": uuid4(), "username": "bob",
     "display_name": "Bob \u00fc \u2028 \"q\" \\ \n", "badges": ["moderator"],
     "content": "h\u00e9llo \U0001f600", "class_version": 2},
    {"status": StreamStatus.LIVE, "count": 3, "ratio": 0.5, "none": None, "flag": True,
     "big": 2**70, "negative": -1, "empty": [], "nested": {"ids": [uuid4(), uuid4()],
                                                            "at": datetime(2026, 1, 2)},
     "money": Decimal("1.50"), "tuple": (1, "a"), "offset": datetime(
         2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30)))},
    {"float": float("nan"), "inf": float("inf")},  # json writes NaN; msgspec would not
    {"large": 1e300, "small": -2.5e-7, "zero": -0.0, "in a list": [1e22, 0.1]},  # 1e+300
    {"keys": {1: "int key"}},  # json turns the key into text
    {"_type_": "looks", "_data_": "tagged but is not registered"} | {"extra": 1},
]


@pytest.mark.parametrize("state", STATES)
def test_writes_the_library_bytes_and_reads_them_back(state: dict[str, Any]) -> None:
    ours, theirs = MsgspecTranscoder(), library()
    encoded = ours.encode(state)
    assert encoded == theirs.encode(state)
    for reader in (ours, theirs):
        decoded = reader.decode(encoded)
        if state.get("float") is not None:  # NaN is not equal to itself
            assert repr(decoded) == repr(theirs.decode(encoded))
        else:
            assert decoded == theirs.decode(encoded)
    assert type(ours.decode(encoded)) is dict


def test_values_come_back_as_the_library_makes_them() -> None:
    ident, at = uuid4(), datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC)
    decoded = MsgspecTranscoder().decode(library().encode(
        {"id": ident, "at": at, "money": Decimal("2.5"), "ids": [ident]}))
    assert decoded == {"id": ident, "at": at, "money": Decimal("2.5"), "ids": [ident]}
    assert type(decoded["id"]) is UUID and decoded["at"].tzinfo is not None


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.x == self.x


class PointAsInt(Transcoding):
    type = Point
    name = "point"

    def encode(self, obj: Point) -> int:
        return obj.x

    def decode(self, data: int) -> Point:
        return Point(data)


def test_other_transcodings_go_the_library_way() -> None:
    ours, theirs = MsgspecTranscoder(), library()
    state = {"p": Point(3), "id": uuid4()}
    with pytest.raises(TranscodingNotRegisteredError):
        ours.encode(state)
    with pytest.raises(TranscodingNotRegisteredError):
        ours.decode(b'{"p":{"_type_":"point","_data_":3}}')
    ours.register(PointAsInt())
    theirs.register(PointAsInt())
    assert ours.encode(state) == theirs.encode(state)
    assert ours.decode(ours.encode(state)) == state == theirs.decode(ours.encode(state))
