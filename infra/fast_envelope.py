"""A faster read of the log for bulk work (rebuilds, replays): stored JSON straight to
envelopes, without building domain event objects and turning them back into JSON types.

It gives exactly what `EventStore.read` gives (a test compares the two on every event
type); whatever it does not recognise (an event stored at an older class version, an
unknown encoded type, a cipher or compressor) goes through the regular `to_envelope`.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha1
from typing import Any
from uuid import NAMESPACE_OID

import msgspec

from domain.catalogue import EVENT_CLASSES, SECRET_FIELDS, TYPE_BY_TOPIC, topics_for
from infra.envelope import EventEnvelope, to_envelope
from infra.event_store import EventStore

_SKIP = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
_decode = msgspec.json.decode
_VERSIONS = {name: getattr(cls, "class_version", 1) for name, cls in EVENT_CLASSES.items()}


class _Unknown(Exception):
    """An encoded value this fast path does not handle."""


def _uuid(hex_: str) -> str:
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


_OID = NAMESPACE_OID.bytes


def _event_id(aggregate_id: str, version: int) -> str:
    """`envelope.event_id` (a UUID 5) without building UUID objects."""
    digest = bytearray(sha1(_OID + f"{aggregate_id}/{version}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return _uuid(digest.hex())


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get("_type_")
        if kind is None:
            return {k: _plain(v) for k, v in value.items()}
        if kind == "uuid_hex":
            return _uuid(value["_data_"])
        if kind == "datetime_iso":
            return value["_data_"]
        raise _Unknown(kind)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _fast(n: Any, type_name: str) -> EventEnvelope | None:
    state = _decode(n.state)
    if state.pop("class_version", 1) != _VERSIONS[type_name]:
        return None  # needs upcasting: the regular path
    try:
        data = {k: _plain(v) for k, v in state.items() if k not in _SKIP
                and k not in SECRET_FIELDS}
        stamp = state["timestamp"]
        if stamp.get("_type_") != "datetime_iso":
            return None
    except _Unknown:
        return None
    aggregate_id = str(n.originator_id)
    channel_id = data.get("channel_id")
    if channel_id is None and type_name.startswith("Channel."):
        channel_id = aggregate_id
    return EventEnvelope(
        position=n.id, id=_event_id(aggregate_id, n.originator_version),
        aggregate_id=aggregate_id, aggregate_version=n.originator_version, type=type_name,
        schema_version=_VERSIONS[type_name], timestamp=stamp["_data_"], channel_id=channel_id,
        data=data)


def read_fast(store: EventStore, after: int, limit: int, *, types: Sequence[str] = (),
              stop: int | None = None) -> tuple[list[EventEnvelope], int]:
    """`EventStore.read`, faster (same arguments, same result)."""
    mapper: Any = store.app.mapper
    if mapper.cipher is not None or mapper.compressor is not None:
        return store.read(after, limit, types=types, stop=stop)
    notifications = store.app.recorder.select_notifications(
        start=after + 1, limit=limit, stop=stop, topics=topics_for(types) if types else ())
    out: list[EventEnvelope] = []
    for n in notifications:
        type_name = TYPE_BY_TOPIC.get(n.topic)
        if type_name is None:
            continue
        envelope = _fast(n, type_name) or to_envelope(n, mapper)
        if envelope is not None:
            out.append(envelope)
    if stop is not None and len(notifications) < limit:
        return out, max(stop, after)
    return out, notifications[-1].id if notifications else after
