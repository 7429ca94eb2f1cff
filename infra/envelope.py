"""The wire form of a stored event: what the relay publishes, projectors consume and
analysts export. Secrets stay in the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_OID, UUID, uuid5

import msgspec
from eventsourcing.persistence import Mapper, Notification

from domain.catalogue import EVENT_CLASSES, SECRET_FIELDS, TYPE_BY_TOPIC

_SKIP = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


class EventEnvelope(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One event at one position of the log."""

    position: int
    id: str
    aggregate_id: str
    aggregate_version: int
    type: str
    schema_version: int
    timestamp: str
    channel_id: str | None
    data: dict[str, Any]

    @property
    def routing_key(self) -> str:
        """`<Aggregate>.<Event>.<channel id or ->`, for topic-exchange bindings."""
        return f"{self.type}.{self.channel_id or '-'}"


class EventBatch(msgspec.Struct, frozen=True, gc=False):
    """A run of consecutive events sharing a routing key; `upto` is the last position
    the sender vouches for (a watermark batch has no events)."""

    events: list[EventEnvelope]
    upto: int


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and type(value).__module__.startswith("domain"):
        return value.value
    return value


def event_id(aggregate_id: str, version: int) -> str:
    """A stable id for an event, derived from its aggregate and version."""
    return str(uuid5(NAMESPACE_OID, f"{aggregate_id}/{version}"))


_json_decode = msgspec.json.Decoder().decode


def _untag(value: Any) -> Any:
    """The library's JSON transcodings (`{"_type_": "uuid_hex", "_data_": ...}`) as plain
    JSON values: UUIDs as canonical strings, datetimes and decimals as their strings."""
    if type(value) is dict:
        tag = value.get("_type_")
        if tag is not None and "_data_" in value:
            data = value["_data_"]
            if tag == "uuid_hex":
                return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
            return _untag(data)
        return {k: _untag(v) for k, v in value.items()}
    if type(value) is list:
        return [_untag(v) for v in value] if any(type(v) in (dict, list) for v in value) \
            else value
    return value


def to_envelope(notification: Notification, mapper: Mapper[Any]) -> EventEnvelope | None:
    """Upcasts and converts a stored notification; None for types outside the catalogue.

    The fast path decodes the stored JSON straight to plain values (a rebuild reads
    millions of these); with a cipher or compressor configured it goes through the mapper.
    """
    type_name = TYPE_BY_TOPIC.get(notification.topic)
    if type_name is None:
        return None
    cls = EVENT_CLASSES[type_name]
    if mapper.cipher is None and mapper.compressor is None:
        state = _untag(_json_decode(notification.state))
        from_version = state.pop("class_version", 1)
        to_version = getattr(cls, "class_version", 1)
        while from_version < to_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        timestamp = state["timestamp"]
    else:
        state = vars(mapper.to_domain_event(notification))
        timestamp = state["timestamp"].isoformat()
        state = {k: _plain(v) for k, v in state.items()}
    data = {k: v for k, v in state.items() if k not in _SKIP and k not in SECRET_FIELDS}
    aggregate_id = str(notification.originator_id)
    channel_id = data.get("channel_id")
    if channel_id is None and type_name.startswith("Channel."):
        channel_id = aggregate_id
    return EventEnvelope(
        position=notification.id,
        id=event_id(aggregate_id, notification.originator_version),
        aggregate_id=aggregate_id,
        aggregate_version=notification.originator_version,
        type=type_name,
        schema_version=getattr(cls, "class_version", 1),
        timestamp=timestamp,
        channel_id=channel_id,
        data=data,
    )


def runs(events: list[EventEnvelope]) -> list[list[EventEnvelope]]:
    """Splits events (in log order) into maximal runs that share a routing key, so every
    queue receives positions in increasing order whatever it binds."""
    out: list[list[EventEnvelope]] = []
    for event in events:
        if out and out[-1][-1].routing_key == event.routing_key:
            out[-1].append(event)
        else:
            out.append([event])
    return out
