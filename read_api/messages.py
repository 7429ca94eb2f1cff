"""Chat messages by id: deletion by the author, the channel owner or a moderator."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from commands.bus import CommandBus
from commands.delete_message import DeleteMessage
from infra.identity.auth import Principal
from read_api.deps import parse_id, provide_principal


class MessageController(Controller):
    path = "/api/messages"
    tags = ["chat"]

    @delete(
        "/{message_id:str}", status_code=200, dependencies={"principal": Provide(provide_principal)}
    )
    async def remove(
        self,
        message_id: FromPath[str],
        principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> dict[str, Any]:
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
