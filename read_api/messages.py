"""Chat messages by id: deletion by the author, the channel owner or a moderator; and the
plan's `POST /api/messages`, an alias of `POST /api/streams/{id}/messages` (the same
function, rate limit and group commit)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from commands.bus import CommandBus
from commands.chat_refusals import RefusalTally
from commands.delete_message import DeleteMessage
from infra.identity.auth import Principal
from infra.shared_state.rate_limit import ChatRateLimiter
from read_api.deps import bot_scope, parse_id, provide_principal
from read_api.openapi import BEARER, problems
from read_api.schemas import Text
from read_api.streams import body_id, post_message
from read_api.views.message import DeletedMessage, Message

auth = {"principal": Provide(provide_principal)}


class PostMessageBody(msgspec.Struct, rename="camel"):
    """A message for a stream's chat; the plan's body names the stream."""

    stream_id: Annotated[str, msgspec.Meta(max_length=64)]
    content: Text


class MessageController(Controller):
    path = "/api/messages"
    tags = ["chat"]

    @post("/", status_code=201, dependencies=auth,
          opt=bot_scope("chat:write"), operation_id="sendMessageAlias",
          summary="Alias of POST /api/streams/{id}/messages", security=BEARER,
          responses=problems(403, 404, 409, 415, 422, 429, auth=True))
    async def send(
        self,
        data: JSONBody[PostMessageBody],
        principal: NamedDependency[Principal],
        rate_limiter: NamedDependency[ChatRateLimiter],
        commands: NamedDependency[CommandBus],
        refusals: NamedDependency[RefusalTally],
    ) -> Message:
        """Alias of `POST /api/streams/{id}/messages`, the stream named by `streamId`."""
        return await post_message(body_id(data.stream_id, "streamId"), data.content,
                                  principal, rate_limiter, commands, refusals)

    @delete("/{message_id:str}", status_code=200, dependencies=auth,
          opt=bot_scope("chat:moderate"),
            operation_id="deleteMessage", security=BEARER,
            responses=problems(403, 404, auth=True))
    async def remove(
        self,
        message_id: FromPath[str],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> DeletedMessage:
        """Soft-deletes a message; deleting twice is harmless."""
        result = await commands.execute(
            DeleteMessage(actor_id=principal.user_id, message_id=parse_id(message_id, "message"))
        )
        m = result.message
        return {
            "id": str(m.id),
            "streamId": str(m.stream_id),
            "deleted": True,
            "deletedAt": m.deleted_at.isoformat() if m.deleted_at else None,
            "position": result.position,
        }
