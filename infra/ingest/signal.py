"""What any ingest provider tells us, in one shape: the adapters parse their provider's
body into an `IngestSignal`, and the lifecycle turns signals into commands."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from domain.errors import DomainError

Kind = Literal["connected", "disconnected", "ended", "recording", "final_recording", "ignored"]


class Malformed(DomainError):
    """A webhook body that is not the provider's documented shape (400)."""

    code = "malformed"


class IngestSignal(msgspec.Struct, frozen=True, kw_only=True):
    """One provider notification, normalised. `external_id` is the provider's live input
    (bound to a channel); `asset_id` names a recording the provider made of it."""

    provider: str
    event_id: str
    event_type: str
    kind: Kind
    external_id: str | None = None
    channel_hint: str | None = None
    playback_id: str | None = None
    asset_id: str | None = None
    vod_url: str | None = None
    recording_path: str | None = None


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
