"""Request dependencies: who is calling, and the service container."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request
from litestar.di import NamedDependency, Provide

from domain.errors import Forbidden, NotFound, Unauthenticated
from infra.identity.auth import Principal
from read_api.async_ports import (
    Credentials,
    Identities,
    LiveUpdates,
    SignedInAccounts,
    UploadStorage,
)
from read_api.services import Services


def services_of(request: Request[Any, Any, Any]) -> Services:
    return request.app.state.services


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


BOT_SCOPE = "bot_scope"  # a route's opt: the scope a bot token needs to call it


def bot_scope(scope: str) -> dict[str, str]:
    """`opt=` of a route bot tokens may call, with `scope` (others refuse them: 403)."""
    return {BOT_SCOPE: scope}


def check_bot(request: Request[Any, Any, Any], principal: Principal) -> None:
    """A bot token only calls the routes that name one of its scopes, and only for its own
    channel where the path names one (a stream's channel is checked by the command)."""
    scope = request.route_handler.opt.get(BOT_SCOPE)
    if scope is None:
        raise Forbidden("bot tokens may not use this route")
    if scope not in principal.scopes:
        raise Forbidden(f"this bot token lacks the {scope!r} scope")
    channel = request.path_params.get("channel_id")
    if channel is not None and str(channel) != str(principal.bot_channel):
        raise Forbidden("this bot token acts in its own channel only")


async def provide_identity(request: Request[Any, Any, Any],
                           identities: NamedDependency[Identities]) -> Principal:
    """Whoever the token names, set up or not (for onboarding and who-am-I).

    Taking `identities` as a dependency of its own puts it in an earlier batch than the
    principal, so Litestar resolves the two in turn rather than in a task group per request."""
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("sign in first: send 'Authorization: Bearer <token>'")
    principal = await identities.identify(token)
    if principal.is_bot:
        check_bot(request, principal)
    return principal


async def provide_principal(request: Request[Any, Any, Any],
                            identities: NamedDependency[Identities]) -> Principal:
    principal = await provide_identity(request, identities)
    if not principal.onboarded:
        raise Forbidden("finish setting up your account first: POST /api/auth/onboard",
                        field="username")
    return principal


def identities_of(request: Request[Any, Any, Any]) -> Identities:
    """For a dependency that is optional (a public read's viewer), resolved by hand."""
    return services_of(request).identities


def app_dependencies(services: Services) -> dict[str, Provide]:
    """The narrow dependencies routes take by name, each one object of the composition
    root: resolved once per app (`use_cache`), not once per request. A fresh set per app,
    so two apps in one process (tests) never share one's objects."""
    from read_api.analytics import Analytics

    def one(value: Any) -> Provide:
        async def provide() -> Any:
            return value

        provide.__annotations__["return"] = type(value)
        return Provide(provide, use_cache=True)

    return {"commands": one(services.commands),
            "reads": one(services.reads),
            "aggregates": one(services.aggregates),
            "settings": one(services.settings),
            "rate_limiter": one(services.rate_limiter),
            "refusals": one(services.refusals),
            "analytics": one(Analytics(services.store)),
            "tokens": one(services.tokens),
            "accounts": one(SignedInAccounts(services.authenticator)),
            "identities": one(services.identities),
            "process": one(services.process),
            "credentials": one(Credentials(services.store, services.hasher)),
            "storage": one(UploadStorage(services.storage)),
            "live": one(LiveUpdates(services.bus))}


def parse_id(value: str, what: str) -> UUID:
    """Path ids are UUIDs; anything else names nothing (404, not 500)."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value!r} not found") from None
