"""Ignoring users: a user hides another user's chat messages from their own view,
in history and live. The change reaches the user's open connections on every node at once."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery

from commands.ignore_user import IgnoreUser, ignore_user
from infra.auth import Principal
from infra.bus import LiveUpdate
from read_api.deps import (
    bearer_token,
    parse_id,
    provide_identity,
    provide_principal,
    services_of,
)
from read_api.moderation_queries import ignored_ids
from read_api.reads import ReadModels
from read_api.services import Services

auth = {"principal": Provide(provide_principal)}
IGNORES_EVENT = "chat:ignores"


def user_room(user_id: str) -> str:
    """A room no socket joins: the gateway reads these updates for the user's sessions."""
    return f"user:{user_id}"


async def _set(services: Services, principal: Principal, user_id: str,
               ignore: bool) -> dict[str, Any]:
    uid = parse_id(user_id, "user")
    position = await services.run(ignore_user, IgnoreUser(
        actor_id=principal.user_id, user_id=uid, ignore=ignore), services.store)
    view = {"userId": str(principal.user_id), "ignoredId": str(uid), "ignored": ignore}
    await services.bus.publish_live([LiveUpdate(user_room(str(principal.user_id)),
                                                IGNORES_EVENT, view)])
    return {"userId": str(uid), "ignored": ignore, "position": position}


class IgnoreController(Controller):
    """Ignore and unignore users; list whom you ignore."""

    path = "/api"
    tags = ["moderation"]

    @post("/users/{user_id:str}/ignore", status_code=200, dependencies=auth)
    async def ignore(self, user_id: FromPath[str], principal: NamedDependency[Principal],
                     services: NamedDependency[Services]) -> dict[str, Any]:
        """Hides the user's messages from your view (again: no change)."""
        return await _set(services, principal, user_id, True)

    @delete("/users/{user_id:str}/ignore", status_code=200, dependencies=auth)
    async def unignore(self, user_id: FromPath[str], principal: NamedDependency[Principal],
                       services: NamedDependency[Services]) -> dict[str, Any]:
        """Shows the user's messages again (not ignoring: no change)."""
        return await _set(services, principal, user_id, False)

    @get("/ignores", dependencies=auth)
    async def mine(self, principal: NamedDependency[Principal],
                   services: NamedDependency[Services],
                   after: FromQuery[int | None] = None) -> dict[str, Any]:
        """Whom you ignore."""
        await services.positions.wait(("ignores",), after, services.settings.read_wait_timeout_s)
        return {"items": await services.run(ignored_ids, services.db,
                                            str(principal.user_id))}


async def provide_viewer(request: Request[Any, Any, Any]) -> Principal | None:
    """The signed-in caller of a public read, or None without a token."""
    if bearer_token(request) is None:
        return None
    return await provide_identity(request, services_of(request))


async def hide_ignored(reads: ReadModels, viewer: Principal | None,
                       items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages without those of users the viewer ignores (a page may come out shorter)."""
    if viewer is None or not items:
        return items
    ignored = set(await reads.query(ignored_ids, str(viewer.user_id)))
    return [m for m in items if m["user"]["id"] not in ignored] if ignored else items
