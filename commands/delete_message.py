"""DeleteMessage: the author, the channel owner or a moderator deletes a chat message."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.ports import Store
from domain.channel import Channel
from domain.chat import ChatMessage


class DeleteMessage(msgspec.Struct, frozen=True, kw_only=True):
    actor_id: UUID
    message_id: UUID


class MessageDeleted(msgspec.Struct, frozen=True, kw_only=True):
    message: ChatMessage
    position: int


def delete_message(cmd: DeleteMessage, store: Store) -> MessageDeleted:
    message = store.get(cmd.message_id, ChatMessage, what="message")
    channel = store.get(message.channel_id, Channel)
    if not message.delete(cmd.actor_id, may_moderate=channel.may_moderate(cmd.actor_id)):
        return MessageDeleted(message=message, position=0)
    return MessageDeleted(message=message, position=store.save(message))
