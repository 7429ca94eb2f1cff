"""Integrations of a channel with other software: outbound webhook subscriptions and scoped
bot tokens. The rules live here (which event types and scopes exist, what a webhook URL
may be, how secrets and tokens look); the events are the Channel aggregate's, so the
limit per channel and a token's revocation are decided on one aggregate."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

from domain.errors import Invalid

# Outbound event types, each with the version of its payload (docs/webhooks.md).
EVENT_TYPES: dict[str, int] = {
    "stream.online": 1,
    "stream.offline": 1,
    "stream.archived": 1,
    "stream.viewers": 1,
    "chat.message.sent": 1,
    "chat.message.deleted": 1,
    "channel.followed": 1,
    "channel.subscribed": 1,
    "moderation.user_banned": 1,
    "moderation.user_unbanned": 1,
}

SCOPES = ("chat:read", "chat:write", "chat:moderate", "stream:read", "stream:manage")
MAX_WEBHOOKS = 20
MAX_TOKENS = 20
MAX_URL = 2048
MAX_DESCRIPTION = 500
MAX_TOKEN_NAME = 50
TOKEN_PREFIX = "abt_"


@dataclass
class Webhook:
    """A subscription as the channel knows it; the secret stays sealed (only the
    composition root holds the key that opens it)."""

    id: UUID
    url: str
    event_types: list[str]
    description: str
    sealed_secret: str
    enabled: bool = True
    disabled_reason: str | None = None


@dataclass
class BotToken:
    """A token a bot acts with in one channel: only its hash is kept."""

    id: UUID
    name: str
    scopes: list[str]
    token_hash: str
    revoked: bool = False

    def allows(self, scope: str) -> bool:
        return not self.revoked and scope in self.scopes


def clean_url(url: str, *, allow_insecure: bool = False) -> str:
    """A webhook URL: absolute, `https` (plain `http` only where private targets are
    allowed, for development), with a host and no credentials in it."""
    value = url.strip()
    if not value or len(value) > MAX_URL:
        raise Invalid(f"url must be 1-{MAX_URL} characters", field="url")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a port that is not a number
    except ValueError as e:
        raise Invalid(f"url cannot be parsed: {e}", field="url") from None
    allowed = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in allowed:
        raise Invalid("url must be an https:// URL", field="url")
    if not parts.hostname:
        raise Invalid("url must name a host", field="url")
    if parts.username or parts.password:
        raise Invalid("url must not hold credentials", field="url")
    if port == 0:
        raise Invalid("url names port 0", field="url")
    if not allow_insecure and _private_literal(parts.hostname):
        raise Invalid("url must not point at a private, loopback or link-local address",
                      field="url")
    if parts.fragment:
        raise Invalid("url must not have a fragment", field="url")
    return value


def _private_literal(host: str) -> bool:
    """An address written in the URL that is not a public one (names are checked when
    delivering, after they resolve)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host.lower() == "localhost" or host.lower().endswith(".localhost")
    return not ip.is_global


def clean_event_types(types: list[str]) -> list[str]:
    if not types:
        raise Invalid("eventTypes needs at least one event type", field="eventTypes")
    cleaned: list[str] = []
    for t in types:
        if t not in EVENT_TYPES:
            raise Invalid(f"unknown event type {t!r}; known: {', '.join(EVENT_TYPES)}",
                          field="eventTypes")
        if t not in cleaned:
            cleaned.append(t)
    return cleaned


def clean_description(description: str) -> str:
    value = description.strip()
    if len(value) > MAX_DESCRIPTION:
        raise Invalid(f"description is at most {MAX_DESCRIPTION} characters",
                      field="description")
    return value


def clean_scopes(scopes: list[str]) -> list[str]:
    if not scopes:
        raise Invalid("scopes needs at least one scope", field="scopes")
    cleaned: list[str] = []
    for s in scopes:
        if s not in SCOPES:
            raise Invalid(f"unknown scope {s!r}; known: {', '.join(SCOPES)}", field="scopes")
        if s not in cleaned:
            cleaned.append(s)
    return cleaned


def clean_token_name(name: str) -> str:
    value = name.strip()
    if not 1 <= len(value) <= MAX_TOKEN_NAME or not value.isprintable():
        raise Invalid(f"name must be 1-{MAX_TOKEN_NAME} printable characters", field="name")
    return value


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_bot_token(channel_id: UUID, token_id: UUID) -> str:
    """The bearer a bot presents: it names its channel and token (so checking it is one
    aggregate read) and carries 256 random bits."""
    return f"{TOKEN_PREFIX}{channel_id.hex}{token_id.hex}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """What is stored of a token. A fast hash suffices: the token is 256 random bits, not
    a password anyone could guess."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_bot_token(token: str) -> tuple[UUID, UUID] | None:
    """(channel id, token id) of a bot token; None when it is not shaped like one."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    ids, _, rest = token[len(TOKEN_PREFIX):].partition("_")
    if len(ids) != 64 or not rest:
        return None
    try:
        return UUID(hex=ids[:32]), UUID(hex=ids[32:])
    except ValueError:
        return None
