"""Request dependencies: who is calling, and the service container."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request

from domain.errors import NotFound, Unauthenticated
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


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("sign in first: send 'Authorization: Bearer <token>'")
    return services_of(request).authenticator.authenticate(token)


async def provide_services(request: Request[Any, Any, Any]) -> Services:
    return services_of(request)


def parse_id(value: str, what: str) -> UUID:
    """Path ids are UUIDs; anything else names nothing (404, not 500)."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value!r} not found") from None
