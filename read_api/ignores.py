"""Ignoring users: a user hides another user's chat messages from their own view,
in history and live. The change reaches the user's open connections on every node at once."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery

from commands.bus import CommandBus
from commands.ignore_user import IgnoreUser
from infra.identity.auth import Principal
from infra.messaging.bus import LiveUpdate
from projections.ignores import ignored_ids
from read_api.async_ports import LiveUpdates
from read_api.deps import (
    bearer_token,
    identities_of,
    parse_id,
    provide_identity,
    provide_principal,
)
from read_api.openapi import BEARER, problems
from read_api.reads import ReadModels
from read_api.views.moderation import IgnoreChange, IgnoreList

auth = {"principal": Provide(provide_principal)}
IGNORES_EVENT = "chat:ignores"


def user_room(user_id: str) -> str:
    """A room no socket joins: the gateway reads these updates for the user's sessions."""
    return f"user:{user_id}"


async def _set(commands: CommandBus, live: LiveUpdates, principal: Principal, user_id: str,
               ignore: bool) -> dict[str, Any]:
    uid = parse_id(user_id, "user")
    position = await commands.execute(IgnoreUser(
        actor_id=principal.user_id, user_id=uid, ignore=ignore))
    view = {"userId": str(principal.user_id), "ignoredId": str(uid), "ignored": ignore}
    await live.publish([LiveUpdate(user_room(str(principal.user_id)), IGNORES_EVENT, view)])
    return {"userId": str(uid), "ignored": ignore, "position": position}


class IgnoreController(Controller):
    """Ignore and unignore users; list whom you ignore."""

    path = "/api"
    tags = ["moderation"]

    @post("/users/{user_id:str}/ignore", status_code=200, dependencies=auth,
          operation_id="ignoreUser", security=BEARER,
          responses=problems(403, 404, 422, auth=True))
    async def ignore(self, user_id: FromPath[str], principal: NamedDependency[Principal],
                     commands: NamedDependency[CommandBus],
                     live: NamedDependency[LiveUpdates]) -> IgnoreChange:
        """Hides the user's messages from your view (again: no change)."""
        return await _set(commands, live, principal, user_id, True)

    @delete("/users/{user_id:str}/ignore", status_code=200, dependencies=auth,
            operation_id="unignoreUser", security=BEARER,
            responses=problems(403, 404, 422, auth=True))
    async def unignore(self, user_id: FromPath[str], principal: NamedDependency[Principal],
                       commands: NamedDependency[CommandBus],
                       live: NamedDependency[LiveUpdates]) -> IgnoreChange:
        """Shows the user's messages again (not ignoring: no change)."""
        return await _set(commands, live, principal, user_id, False)

    @get("/ignores", dependencies=auth, operation_id="listIgnoredUsers", security=BEARER,
         responses=problems(403, 422, 503, auth=True))
    async def mine(self, principal: NamedDependency[Principal],
                   reads: NamedDependency[ReadModels],
                   after: FromQuery[int | None] = None) -> IgnoreList:
        """Whom you ignore."""
        await reads.caught_up(("ignores",), after)
        return {"items": await reads.query(ignored_ids, str(principal.user_id))}


async def provide_viewer(request: Request[Any, Any, Any]) -> Principal | None:
    """The signed-in caller of a public read, or None without a token."""
    if bearer_token(request) is None:
        return None
    return await provide_identity(request, identities_of(request))


async def hide_ignored(reads: ReadModels, viewer: Principal | None,
                       items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages without those of users the viewer ignores (a page may come out shorter)."""
    if viewer is None or not items:
        return items
    ignored = set(await reads.query(ignored_ids, str(viewer.user_id)))
    return [m for m in items if m["user"]["id"] not in ignored] if ignored else items
