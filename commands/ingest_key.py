"""Finding a channel by the stream key an encoder presents (no scan, no read model).

The key's digest names a claim in the event store; the claim names the channel; the key
is then compared with the channel's current key in constant time, so a rotated key is
refused at once. Refusals never repeat the key.
"""

from __future__ import annotations

import hmac

from commands.ports import Store
from domain.channel import Channel
from domain.errors import Forbidden
from domain.stream_key import StreamKeyClaim

MAX_KEY_LENGTH = 256


def channel_for_key(store: Store, stream_key: str, *, current_only: bool = True) -> Channel:
    """The channel whose key this is; Forbidden for an unknown key, or (with
    `current_only`) a key that was rotated away."""
    refused = Forbidden("unknown or revoked stream key", field="name")
    if not stream_key or len(stream_key) > MAX_KEY_LENGTH:
        raise refused
    claim = store.find(StreamKeyClaim.id_for_key(stream_key), StreamKeyClaim)
    if claim is None:
        raise refused
    channel = store.find(claim.channel_id, Channel)
    if channel is None:
        raise refused
    if current_only and not hmac.compare_digest(
            channel.stream_key.encode(), stream_key.encode("utf-8", "surrogatepass")):
        raise refused
    return channel
