"""The wire form of a stored event: what the relay publishes, projectors consume and
analysts export. Secrets stay in the store."""

from __future__ import annotations

from datetime import datetime
from hashlib import sha1
from typing import Any
from uuid import NAMESPACE_OID, UUID

import msgspec
from eventsourcing.persistence import Mapper, StoredEvent

from domain.catalogue import EVENT_CLASSES, SECRET_FIELDS, TYPE_BY_TOPIC
from infra.observability.tracing import TRACE_KEY
from projections.ports import EventEnvelope


class EventBatch(msgspec.Struct, frozen=True, gc=False):
    """A run of consecutive events sharing a routing key; `upto` is the last position
    the sender vouches for (a watermark batch has no events)."""

    events: list[EventEnvelope]
    upto: int


_AS_IS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """A decoded domain event's values (the mapper's) as JSON types."""
    kind = type(value)
    if kind in _AS_IS:  # most values: spared the checks below
        return value
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


_OID_SHA1 = sha1(NAMESPACE_OID.bytes)
_VARIANT = "89ab"


def event_id(aggregate_id: str, version: int) -> str:
    """A stable id for an event, derived from its aggregate and version: the UUID 5 of
    `aggregate_id/version` in the OID namespace, formatted without building UUID objects
    (every event read gets one)."""
    h = _OID_SHA1.copy()
    h.update(f"{aggregate_id}/{version}".encode())
    digest = h.digest()
    x = digest.hex()
    # The version nibble is 5; the variant bits make the next group start with 8, 9, a or b.
    return (f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[(digest[8] >> 4) & 3]}{x[17:20]}-"
            f"{x[20:32]}")


# -- decoding ---------------------------------------------------------------------------
# The library's JSON transcoder writes a UUID, datetime or Decimal as a two-key object,
# `{"_type_": "uuid_hex", "_data_": "..."}`. Decoded as tagged structs, an event made of
# those, scalars and lists of scalars (nearly all of them) comes out of msgspec in one
# pass, without building domain event objects and turning them back into JSON types.


class _Uuid(msgspec.Struct, tag_field="_type_", tag="uuid_hex", forbid_unknown_fields=True):
    data: str = msgspec.field(name="_data_")


class _Datetime(msgspec.Struct, tag_field="_type_", tag="datetime_iso",
                forbid_unknown_fields=True):
    data: str = msgspec.field(name="_data_")


class _Decimal(msgspec.Struct, tag_field="_type_", tag="decimal_str",
               forbid_unknown_fields=True):
    data: str = msgspec.field(name="_data_")


_Scalar = str | int | float | bool | None
_decode_flat = msgspec.json.Decoder(
    dict[str, _Uuid | _Datetime | _Decimal | _Scalar | list[_Scalar]]).decode
_decode_any = msgspec.json.Decoder().decode


class _NotPlain(Exception):
    """Stored JSON this module does not decode itself: the mapper's business."""


# UUIDs as text, by their hex: the ids events refer to (channels, streams, authors) recur
# from event to event, and a lookup costs a fraction of formatting one. Bounded: a read of
# many distinct ids starts it over now and then.
_UUIDS: dict[str, str] = {}
_UUIDS_MAX = 16384


def _uuid(hex_: str) -> str:
    text = _UUIDS.get(hex_)
    if text is None:
        if len(_UUIDS) >= _UUIDS_MAX:
            _UUIDS.clear()
        text = _UUIDS[hex_] = f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"
    return text


def _untag(value: Any) -> Any:
    """Stored JSON with nested objects (a dict-valued field, a list of UUIDs) as plain
    values, read the way the library's transcoder reads it: a two-key `_type_`/`_data_`
    object is a transcoded value, anything else a dict."""
    if type(value) is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            tag, data = value["_type_"], value["_data_"]
            if type(data) is not str:
                raise _NotPlain(tag)
            if tag == "uuid_hex":
                return _uuid(data)
            if tag in ("datetime_iso", "decimal_str"):
                return data
            raise _NotPlain(tag)  # a transcoding registered elsewhere: the mapper knows it
        return {k: _untag(v) for k, v in value.items()}
    if type(value) is list:
        return [_untag(v) for v in value]
    return value


# Fields never in an envelope's data: the envelope has them itself (the trace context is
# metadata, infra/observability/tracing.py), or they are secrets.
_SKIP = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic",
                   "class_version", TRACE_KEY}) | SECRET_FIELDS

# topic -> (type name, class version, whether the aggregate is the channel it routes by)
_KNOWN: dict[str, tuple[str, int, bool]] = {
    topic: (name, getattr(EVENT_CLASSES[name], "class_version", 1),
            name.startswith("Channel."))
    for topic, name in TYPE_BY_TOPIC.items()}


def _direct(state: bytes, version: int) -> tuple[str, dict[str, Any], Any] | None:
    """The timestamp, data and trace context of an event stored at `version`, straight
    from its JSON; None when the mapper has to read it."""
    try:
        fields = _decode_flat(state)
    except msgspec.ValidationError:  # objects nested in the values: the slower walk
        return _walked(state, version)
    except msgspec.DecodeError:
        return None
    if fields.get("class_version", 1) != version:
        return None  # the upcasters expect the library's decoded values
    stamp = fields.get("timestamp")
    if type(stamp) is not _Datetime:
        return None
    data: dict[str, Any] = {}
    for k, v in fields.items():
        if k in _SKIP:
            continue
        kind = type(v)
        if kind is _Uuid:  # the lookup inlined, as most values of most events get here
            v = _UUIDS.get(v.data) or _uuid(v.data)
        elif kind is _Datetime or kind is _Decimal:
            v = v.data
        data[k] = v
    return stamp.data, data, fields.get(TRACE_KEY)


def _walked(state: bytes, version: int) -> tuple[str, dict[str, Any], Any] | None:
    """`_direct` for JSON the flat decoding does not take."""
    try:
        fields = _decode_any(state)
        if type(fields) is not dict or fields.get("class_version", 1) != version:
            return None
        stamp = fields.get("timestamp")
        timestamp = _untag(stamp) if type(stamp) is dict else None
        if type(timestamp) is not str or stamp.get("_type_") != "datetime_iso":
            return None
        return (timestamp, {k: _untag(v) for k, v in fields.items() if k not in _SKIP},
                fields.get(TRACE_KEY))
    except (_NotPlain, msgspec.DecodeError):
        return None


def _via_mapper(topic: str, state: bytes, originator_id: Any, originator_version: int,
                mapper: Mapper[Any]) -> tuple[str, dict[str, Any], Any]:
    """The library's way: decrypt and decompress if configured, decode, upcast an older
    version (its upcasters are written against the decoded values), then JSON types."""
    if isinstance(originator_id, str):  # as the log's bulk read gives it
        originator_id = UUID(originator_id)
    event = vars(mapper.to_domain_event(StoredEvent(
        originator_id=originator_id, originator_version=originator_version, topic=topic,
        state=state)))
    return (event["timestamp"].isoformat(),
            {k: _plain(v) for k, v in event.items() if k not in _SKIP}, event.get(TRACE_KEY))


def decode_event(topic: str, state: bytes, position: int, originator_id: Any,
                 originator_version: int, mapper: Mapper[Any]) -> EventEnvelope | None:
    """The envelope of one stored event (its topic, state, position in the log and
    originator), upcast to its class's version; None for types outside the catalogue.

    The one decoder of the log: `EventStore.read` and the bulk reads go through it. The
    stored JSON is decoded directly; the mapper reads what that cannot (a cipher or
    compressor, an older version to upcast, a transcoding other than the library's own),
    giving the same envelope the direct path would.
    """
    known = _KNOWN.get(topic)
    if known is None:
        return None
    type_name, version, routes_by_itself = known
    decoded = None
    if mapper.cipher is None and mapper.compressor is None:
        decoded = _direct(state, version)
    if decoded is None:
        decoded = _via_mapper(topic, state, originator_id, originator_version, mapper)
    timestamp, data, trace = decoded
    aggregate_id = str(originator_id)
    channel_id = data.get("channel_id")
    if channel_id is None and routes_by_itself:
        channel_id = aggregate_id
    return EventEnvelope(
        position=position,
        id=event_id(aggregate_id, originator_version),
        aggregate_id=aggregate_id,
        aggregate_version=originator_version,
        type=type_name,
        schema_version=version,
        timestamp=timestamp,
        channel_id=channel_id,
        data=data,
        trace=trace if type(trace) is str else None,
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
