"""The owner's bot tokens: issued (the token shown once, its hash stored) and revoked. A
revoked token is refused from the next request on, on every node: whoever checks a token
reads the channel from the event store."""

from __future__ import annotations

from uuid import UUID, uuid4

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.integrations import (
    BotToken,
    clean_scopes,
    clean_token_name,
    new_bot_token,
    token_hash,
)


class IssueBotToken(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    name: str
    scopes: list[str]


class RevokeBotToken(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    channel_id: UUID
    token_id: UUID


class BotTokenIssued(msgspec.Struct, frozen=True, kw_only=True):
    bot: BotToken
    token: str  # shown once
    position: int


def issue_bot_token(cmd: IssueBotToken, store: Store) -> BotTokenIssued:
    name = clean_token_name(cmd.name)
    scopes = clean_scopes(cmd.scopes)
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    token_id = uuid4()
    token = new_bot_token(channel.id, token_id)
    channel.issue_bot_token(token_id, name=name, scopes=scopes, token_hash=token_hash(token))
    position = store.save(channel)
    return BotTokenIssued(bot=channel.bots[token_id], token=token, position=position)


def revoke_bot_token(cmd: RevokeBotToken, store: Store) -> int:
    channel = store.get(cmd.channel_id, Channel)
    channel.require_owner(cmd.actor_id)
    return store.save(channel) if channel.revoke_bot_token(cmd.token_id) else 0
