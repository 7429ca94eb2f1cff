"""The library's `Mapper`, turning a domain event into a stored event through an encoder
made once per event class.

The library's `to_stored_event` copies the event's attributes into a dict, pops two of
them, adds the class version, and hands the dict to the transcoder, which looks at every
value's type in a loop; then it builds the frozen `StoredEvent` one attribute at a time.
For a chat message that was a fifth of a group-commit batch. Here each event class gets a
function, written from its dataclass fields, that reads the attributes by name into the
stored state in one expression (a value of the type its field declares takes the short
way, any other value the transcoder's general one) and encodes it with msgspec: the same
bytes in the same order, which a test checks against the library's own mapper and
transcoder, event class by event class.

Used only where the bytes cannot differ: with `MsgspecTranscoder` and the library's
default transcodings, and no compressor or cipher. Anything else (an event whose
attributes are not its fields, a value no transcoding knows) goes the library's way.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import (
    Mapper,
    StoredEvent,
)
from eventsourcing.utils import get_topic

from infra.eventstore.transcoder import (
    MsgspecTranscoder,
    _tagged,
    _Unknown,
    datetime_tag,
    uuid_tag,
)

_encode = msgspec.json.Encoder().encode
_new = object.__new__

# An event's encoder: its stored event, or None where the library's way must decide.
Encoder = Callable[[Any], "StoredEvent | None"]


def _str_list(value: Any) -> Any:
    """A list of strings as it is (msgspec writes it as json does), anything else the
    general way."""
    if type(value) is list:
        for item in value:
            if type(item) is not str:
                return _tagged(value)
        return value
    return _tagged(value)


def stored_event(originator_id: Any, originator_version: int, topic: str,
                 state: bytes) -> StoredEvent:
    """`StoredEvent(...)` without its frozen `__setattr__` per field (a third of the
    object's cost): the same attributes, set at once."""
    event = _new(StoredEvent)
    event.__dict__.update(originator_id=originator_id, originator_version=originator_version,
                          topic=topic, state=state)
    return event


class CompiledMapper(Mapper[Any]):
    """`Mapper` with an encoder made once per event class (see the module docstring).
    Selected by `MAPPER_TOPIC`."""

    def __init__(self, transcoder: Any, compressor: Any = None, cipher: Any = None) -> None:
        super().__init__(transcoder, compressor, cipher)
        self._encoders: dict[type, Encoder | None] = {}

    def _plain(self) -> bool:
        """Whether an encoder here writes exactly what the transcoder would."""
        return (isinstance(self.transcoder, MsgspecTranscoder) and not self.compressor
                and not self.cipher and self.transcoder.has_the_defaults())

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        cls = type(domain_event)
        try:
            encoder = self._encoders[cls]
        except KeyError:
            encoder = self._encoders[cls] = compile_encoder(cls) if self._plain() else None
        if encoder is not None:
            stored = encoder(domain_event)
            if stored is not None:
                return stored
        return super().to_stored_event(domain_event)


def compile_encoder(cls: type) -> Encoder | None:
    """The encoder of an event class, or None for one that is not a dataclass with the
    originator's two fields."""
    if not dataclasses.is_dataclass(cls):
        return None
    names = [f.name for f in dataclasses.fields(cls)]
    if names[:2] != ["originator_id", "originator_version"] or any(
            not name.isidentifier() for name in names):
        return None
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve: every value the general way
        hints = {}
    state = names[2:]
    lines = ["def encode(event):",
             "    d = event.__dict__",
             f"    if len(d) != {len(names)}:",
             "        return None",
             "    try:"]
    for k, name in enumerate(state):
        lines.append(f"        v{k} = d[{name!r}]")
    items = [f"{name!r}: {_value(hints.get(name), f'v{k}')}" for k, name in enumerate(state)]
    class_version = getattr(cls, "class_version", 1)
    if class_version > 1:
        items.append(f"'class_version': {class_version!r}")
    lines += [
        f"        state = encode_json({{{', '.join(items)}}})",
        "    except (KeyError, Unknown):",
        "        return None",
        "    return stored_event(d['originator_id'], d['originator_version'], TOPIC, state)",
    ]
    namespace: dict[str, Any] = {
        "encode_json": _encode, "Unknown": _Unknown, "stored_event": stored_event,
        "TOPIC": get_topic(cls), "tagged": _tagged, "uuid_tag": uuid_tag, "UUID": UUID,
        "datetime": datetime, "datetime_tag": datetime_tag, "str_list": _str_list, "str": str,
        "int": int, "bool": bool, "type": type, "len": len,
    }
    exec("\n".join(lines), namespace)  # the source above, made of field names
    encoder: Encoder = namespace["encode"]
    return encoder


def _value(hint: Any, var: str) -> str:
    """The expression that stores a field's value: the short way for the type the field
    declares, the transcoder's general one for anything else."""
    kinds = {t for t in typing.get_args(hint) if t is not type(None)} \
        if typing.get_origin(hint) in (typing.Union, _UnionType) else {hint}
    if kinds == {UUID}:
        return f"(uuid_tag({var}) if type({var}) is UUID else tagged({var}))"
    if kinds == {datetime}:
        return f"(datetime_tag({var}) if type({var}) is datetime else tagged({var}))"
    if kinds == {list[str]}:
        return f"str_list({var})"
    for kind in (str, int, bool):
        if kinds == {kind}:
            # bool is not int's exact type, and an enum not str's: those go the long way
            return f"({var} if type({var}) is {kind.__name__} else tagged({var}))"
    return f"tagged({var})"


_UnionType = type(int | None)
