"""How deeply a JSON document nests, read from its raw text without decoding it.

Decoders recurse per level: a body of a few thousand `[` exhausts the stack (msgspec and
the standard library both raise RecursionError, which is not a decode error) and costs
time before it fails. Nobody's real request nests more than a handful of levels, so bodies
and socket frames are refused past a limit before any decoder sees them."""

from __future__ import annotations

import json
import re
from typing import Any

DEFAULT_MAX_DEPTH = 64

# A string with its escapes (or an unterminated one): brackets inside strings do not count.
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = b"[{"


def too_deep(raw: bytes | str, limit: int = DEFAULT_MAX_DEPTH) -> bool:
    """True when `raw` opens more than `limit` arrays or objects inside each other.

    Fast path: a document with at most `limit` opening brackets in all cannot nest deeper,
    and `bytes.count` answers that in C for the usual small body. Otherwise strings and
    everything but brackets are dropped (in C too), and only the brackets are walked."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        if byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif depth:
            depth -= 1
    return False


TOO_DEEP_EVENT = "aethex:too-deep"


class GuardedJson:
    """A `json` module for python-socketio and Engine.IO (their `json=` option): packets
    nested past the limit decode to a made-up event, `TOO_DEEP_EVENT`, which the server
    answers like any bad frame, instead of the standard decoder recursing until it fails
    (which Engine.IO logs as a handler error with its traceback)."""

    def __init__(self, limit: int = DEFAULT_MAX_DEPTH) -> None:
        self.limit = limit

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, **kwargs)

    def loads(self, text: str | bytes, **kwargs: Any) -> Any:
        if too_deep(text, self.limit):
            return [TOO_DEEP_EVENT]
        return json.loads(text, **kwargs)
