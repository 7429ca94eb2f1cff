"""Who runs a command: a signed-in user (their id) or the system itself (an ingest hook,
a provider webhook, the reconnect-grace worker), which acts for the channel's owner.

Only code inside the process can make a `SystemActor`; HTTP callers always arrive as their
own user id, so owner checks are never weakened for them.
"""

from __future__ import annotations

from uuid import UUID

import msgspec

from domain.channel import Channel


class SystemActor(msgspec.Struct, frozen=True):
    """The system, named for what drives it (`ingest:nginx-rtmp`, `reconnect-grace`)."""

    name: str


Actor = UUID | SystemActor


def require_owner_or_system(channel: Channel, actor: Actor) -> None:
    """Owner checks for users; the system may act on any channel."""
    if isinstance(actor, SystemActor):
        return
    channel.require_owner(actor)
