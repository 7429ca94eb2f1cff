"""Decoding a provider's webhook body into its documented shape (the adapters then build
an `IngestSignal`, the port type in `commands.ports`)."""

from __future__ import annotations

from typing import Any

import msgspec

from domain.errors import DomainError


class Malformed(DomainError):
    """A webhook body that is not the provider's documented shape (400)."""

    code = "malformed"


def decode(body: bytes, shape: type[Any]) -> Any:
    """Decodes a JSON body into `shape`, or Malformed naming the offending field."""
    try:
        return msgspec.json.decode(body, type=shape)
    except msgspec.ValidationError as e:
        message = str(e)
        field = message.rsplit("at `$", 1)[-1].rstrip("`").lstrip(".") if "at `$" in message \
            else None
        if field is None and "missing required field" in message:
            field = message.split("`")[1]
        raise Malformed(f"the body is not a valid notification: {message}",
                        field=field or "body") from None
    except msgspec.DecodeError as e:
        raise Malformed(f"the body is not valid JSON: {e}", field="body") from None
