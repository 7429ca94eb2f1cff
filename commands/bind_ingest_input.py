"""BindIngestInput: the owner names the provider live input (a Mux live stream id, a
Cloudflare Stream live input id) that broadcasts for the channel, so the provider's
webhooks find it. A claim per input: one input, one channel."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.errors import Conflict, Invalid
from domain.unique_name import UniqueName

PROVIDERS = ("mux", "cloudflare")


class BindIngestInput(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    provider: str
    input_id: str


def bind_ingest_input(cmd: BindIngestInput, store: Store) -> int:
    """Returns the position of the claim (0 when this channel already had it)."""
    if cmd.provider not in PROVIDERS:
        raise Invalid(f"provider must be one of {', '.join(PROVIDERS)}", field="provider")
    input_id = cmd.input_id.strip()
    if not 1 <= len(input_id) <= 128 or not input_id.isprintable():
        raise Invalid("inputId must be 1-128 printable characters", field="inputId")
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    kind = f"ingest-{cmd.provider}"
    existing = store.find(UniqueName.create_id(kind, input_id), UniqueName)
    if existing is not None:
        if existing.owner_id == channel.id:
            return 0
        raise Conflict("this input is bound to another channel", field="inputId")
    try:
        return store.save(UniqueName.claim(kind, input_id, channel.id))
    except Conflict:
        raise Conflict("this input was just bound to another channel", field="inputId") from None
