"""The stored events' JSON, written and read with msgspec in the library's own format.

The library's `JSONTranscoder` writes a UUID, datetime or Decimal as a two-key object
(`{"_type_": "uuid_hex", "_data_": "..."}`) through the stdlib `json` module, with a Python
callback per such value: a sixth of a group-commit batch's time went there. This one
writes the same bytes with msgspec and reads them back the same way, so an application
configured with either transcoder reads what the other wrote (`TRANSCODER_TOPIC` selects
it: `infra/settings.py`). A type it does not know (a transcoding registered by someone
else) goes to the library's code, unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


# Reading: an event's state is nearly always an object of scalars, lists of scalars and
# the library's three tagged types, which msgspec decodes in one pass into the values the
# library's transcodings would make (`UUID(hex)`, `datetime.fromisoformat`, `Decimal`).


class _Uuid(msgspec.Struct, tag_field="_type_", tag="uuid_hex", forbid_unknown_fields=True):
    value: UUID = msgspec.field(name="_data_")


class _Datetime(msgspec.Struct, tag_field="_type_", tag="datetime_iso",
                forbid_unknown_fields=True):
    value: datetime = msgspec.field(name="_data_")


class _Decimal(msgspec.Struct, tag_field="_type_", tag="decimal_str",
               forbid_unknown_fields=True):
    value: Decimal = msgspec.field(name="_data_")


_Scalar = str | int | float | bool | None
_decode_flat = msgspec.json.Decoder(
    dict[str, _Uuid | _Datetime | _Decimal | _Scalar | list[_Scalar]]).decode
_TAGS = (_Uuid, _Datetime, _Decimal)
_DEFAULTS = (("uuid_hex", UUIDAsHex), ("datetime_iso", DatetimeAsISO),
             ("decimal_str", DecimalAsStr))


# The tagged form of a UUID as raw JSON, by its value: the ids an event refers to (its
# stream, channel, author) recur from event to event, a lookup by the UUID's int costs less
# than formatting its hex again, and msgspec copies a `Raw` as it is. Bounded: cleared when
# full.
_UUID_TAGS: dict[int, msgspec.Raw] = {}
_UUID_TAGS_MAX = 65536


def uuid_tag(value: UUID) -> msgspec.Raw:
    tag = _UUID_TAGS.get(value.int)
    if tag is None:
        if len(_UUID_TAGS) >= _UUID_TAGS_MAX:
            _UUID_TAGS.clear()
        tag = _UUID_TAGS[value.int] = msgspec.Raw(
            b'{"_type_":"uuid_hex","_data_":"' + value.hex.encode() + b'"}')
    return tag


def datetime_tag(value: datetime) -> msgspec.Raw | dict[str, str]:
    """The tagged form of a datetime. msgspec writes what `isoformat` does (a test compares
    them on random values) in a tenth of its time, except that it names UTC `Z`."""
    if value.tzinfo is UTC:
        return msgspec.Raw(b'{"_type_":"datetime_iso","_data_":' + _encode(value)[:-2]
                           + b'+00:00"}')
    return {"_type_": "datetime_iso", "_data_": value.isoformat()}


class _Unknown(Exception):
    """A value the library's transcoder has to encode (or refuse)."""


# The JSON-native types `json` writes as msgspec does (exact types: a subclass such as a
# StrEnum goes the slower way, and both write its value).
_NATIVE = frozenset({str, int, bool, type(None)})


def _tagged(value: Any) -> Any:
    """`value` with every UUID, datetime and Decimal as the library's two-key object."""
    kind = type(value)
    if kind in _NATIVE:
        return value
    if kind is UUID:
        return uuid_tag(value)
    if kind is datetime:
        return datetime_tag(value)
    if kind is list or kind is tuple:
        return [_tagged(v) for v in value]
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:  # json turns other keys into text its own way
                raise _Unknown
            out[k] = _tagged(v)
        return out
    if kind is Decimal:
        return {"_type_": "decimal_str", "_data_": str(value)}
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise _Unknown  # json writes NaN and Infinity, msgspec null
        # As `json` writes it (`float.__repr__`): msgspec writes 1e300 where json writes
        # 1e+300, the same number in other bytes.
        return msgspec.Raw(float.__repr__(value).encode())
    if isinstance(value, (str, int)):  # StrEnum, IntEnum: json writes the value
        return str.__str__(value) if isinstance(value, str) else int(value)
    raise _Unknown


class MsgspecTranscoder(JSONTranscoder):
    """`JSONTranscoder`'s format, encoded and decoded by msgspec (see the module's
    docstring). The library registers its transcodings on it as on its own."""

    def __init__(self) -> None:
        super().__init__()
        # The library's defaults, so that this transcoder alone reads what it writes
        # (an `Application` registers them again: the same ones).
        self.register(UUIDAsHex())
        self.register(DecimalAsStr())
        self.register(DatetimeAsISO())

    def encode(self, obj: Any) -> bytes:
        try:
            if type(obj) is dict:  # an event's state: its values inline, the common ones
                state = {}
                for k, v in obj.items():
                    kind = type(v)
                    if kind is str or kind is int or v is None or kind is bool:
                        state[k] = v
                    elif kind is UUID:
                        state[k] = _UUID_TAGS.get(v.int) or uuid_tag(v)
                    elif kind is datetime:
                        state[k] = datetime_tag(v)
                    elif type(k) is str:
                        state[k] = _tagged(v)
                    else:
                        raise _Unknown
                return _encode(state)
            return _encode(_tagged(obj))
        except _Unknown:
            return super().encode(obj)

    def has_the_defaults(self) -> bool:
        """Whether UUIDs, datetimes and decimals go by the library's own transcodings (the
        ones this transcoder's shortcuts write and read)."""
        return all(type(self.names.get(name)) is cls for name, cls in _DEFAULTS)

    def decode(self, data: bytes) -> Any:
        if self.has_the_defaults():
            try:
                state = _decode_flat(data)
            except (msgspec.ValidationError, msgspec.DecodeError):
                pass  # nested objects, or text msgspec reads otherwise: the walk below
            else:
                for k, v in state.items():
                    if type(v) in _TAGS:
                        state[k] = v.value
                return state
        try:
            value = _decode(data)
        except msgspec.DecodeError:  # NaN, Infinity: JSON as `json` reads it, not msgspec
            return super().decode(data)
        return self._untag(value)

    def _untag(self, value: Any) -> Any:
        """As the library's `object_hook` reads it: innermost objects first, a two-key
        `_type_`/`_data_` object by its transcoding, any other object as a dict."""
        kind = type(value)
        if kind is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                name = value["_type_"]
                data = value["_data_"]
                if name == "uuid_hex" and type(data) is str:
                    return UUID(data)
                if type(data) is dict or type(data) is list:
                    data = self._untag(data)
                try:
                    transcoding = self.names[name]
                except KeyError as e:
                    raise TranscodingNotRegisteredError(
                        f"Data serialized with name '{name}' is not deserializable. Please "
                        "register a custom transcoding for this type.") from e
                return transcoding.decode(data)
            return {k: self._untag(v) if type(v) is dict or type(v) is list else v
                    for k, v in value.items()}
        if kind is list:
            return [self._untag(v) if type(v) is dict or type(v) is list else v
                    for v in value]
        return value
