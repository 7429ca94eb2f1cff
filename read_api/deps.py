"""Request dependencies: who is calling, and the service container."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request
from litestar.di import NamedDependency

from domain.errors import Forbidden, NotFound, Unauthenticated
from infra.auth import Principal
from infra.bootstrap import Services


def services_of(request: Request[Any, Any, Any]) -> Services:
    return request.app.state.services


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def provide_identity(request: Request[Any, Any, Any],
                           services: NamedDependency[Services]) -> Principal:
    """Whoever the token names, set up or not (for onboarding and who-am-I).

    Taking `services` as a dependency of its own puts it in an earlier batch than the
    principal, so Litestar resolves the two in turn rather than in a task group per request."""
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("sign in first: send 'Authorization: Bearer <token>'")
    authenticator = services.authenticator
    # `identify` (the issuer chain's) also names people who have not onboarded yet.
    identify = getattr(authenticator, "identify", authenticator.authenticate)
    if not getattr(authenticator, "blocking", True):
        return identify(token)
    # Off the event loop: an external token may need the issuer's keys or a user lookup.
    return await services.run(identify, token)


async def provide_principal(request: Request[Any, Any, Any],
                            services: NamedDependency[Services]) -> Principal:
    principal = await provide_identity(request, services)
    if not principal.onboarded:
        raise Forbidden("finish setting up your account first: POST /api/auth/onboard",
                        field="username")
    return principal


async def provide_services(request: Request[Any, Any, Any]) -> Services:
    return services_of(request)


def parse_id(value: str, what: str) -> UUID:
    """Path ids are UUIDs; anything else names nothing (404, not 500)."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value!r} not found") from None
