"""Bot tokens as bearer credentials: the token names its channel and its id, and is
checked against the channel as the event store has it now (its hash, compared in constant
time; revoked or unknown: refused). Nothing is remembered between requests, so a
revocation holds from the next request on, on every node; the store's aggregate cache
makes the check one indexed read of the events since."""

from __future__ import annotations

import hmac
from uuid import UUID

from domain.channel import Channel
from domain.errors import Unauthenticated
from domain.integrations import parse_bot_token, token_hash
from infra.eventstore.event_store import EventStore
from infra.identity.auth import Principal


def is_bot_token(token: str) -> bool:
    return parse_bot_token(token) is not None


class BotTokens:
    """Authenticates bot tokens (blocking: reads the event store)."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def authenticate(self, token: str) -> Principal:
        ids = parse_bot_token(token)
        if ids is None:
            raise Unauthenticated("invalid bot token")
        channel_id, token_id = ids
        bot = self._live(channel_id, token_id)
        if bot is None or not hmac.compare_digest(bot.token_hash, token_hash(token)):
            raise Unauthenticated("invalid or revoked bot token")
        return Principal(user_id=token_id, username=bot.name, display_name=bot.name,
                         bot_channel=channel_id, scopes=tuple(bot.scopes))

    def still_valid(self, principal: Principal) -> Principal:
        """An open connection's bot principal, checked again (revoked: refused)."""
        assert principal.bot_channel is not None
        if self._live(principal.bot_channel, principal.user_id) is None:
            raise Unauthenticated("this bot token has been revoked")
        return principal

    def _live(self, channel_id: UUID, token_id: UUID):  # type: ignore[no-untyped-def]
        channel = self._store.find(channel_id, Channel)
        bot = channel.bots.get(token_id) if channel is not None else None
        return None if bot is None or bot.revoked else bot
