"""What the providers' webhook receivers answer."""

from __future__ import annotations

import msgspec


class WebhookOutcome(msgspec.Struct, rename="camel", kw_only=True):
    """Whether the notification was new, and what it did to the stream."""

    received: bool
    duplicate: bool
    outcome: str
    channel_id: str | None
    stream_id: str | None
    status: str | None
    position: int


class PublishRedirect(WebhookOutcome, kw_only=True):
    """`on_publish` accepted: nginx relays the publisher to `location`."""

    location: str


class BitrateCheck(msgspec.Struct, rename="camel", kw_only=True):
    """nginx-rtmp's periodic update of a publisher: what its bitrate was found to be (none
    when not checked: the policy is `cap`, a relay's update, or too early to tell)."""

    checked: bool
    bitrate_kbps: float | None = None
    limit_kbps: float | None = None


class ClerkOutcome(msgspec.Struct, rename="camel", kw_only=True):
    """A Clerk delivery: event types other than the user ones are not handled."""

    handled: bool
    type: str | None
    duplicate: bool | msgspec.UnsetType = msgspec.UNSET
    user_id: str | msgspec.UnsetType = msgspec.UNSET
    position: int | msgspec.UnsetType = msgspec.UNSET
