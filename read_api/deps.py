"""Request dependencies: who is calling, and the service container."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request
from litestar.di import NamedDependency, Provide

from domain.errors import Forbidden, NotFound, Unauthenticated
from infra.identity.auth import Principal
from read_api.async_ports import Credentials, LiveUpdates, SignedInAccounts, UploadStorage
from read_api.services import Services


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
    # The usual case, on the loop: a local token whose account was checked a moment ago.
    quick = getattr(authenticator, "quick", None)
    if quick is not None and (principal := quick(token, identify=True)) is not None:
        return principal
    # `identify` (the issuer chain's) also names people who have not onboarded yet.
    identify = getattr(authenticator, "identify", authenticator.authenticate)
    if quick is None and not getattr(authenticator, "blocking", True):
        return identify(token)
    # Off the event loop: an external token may need the issuer's keys, and the account
    # check may read the event store.
    return await services.run(identify, token)


async def still_active(services: Services, principal: Principal) -> Principal:
    """The principal of an open connection, its account checked again (remembered for a
    few seconds): a connection signed in before its account was deleted may not act."""
    authenticator = services.authenticator
    remembered = getattr(authenticator, "remembered", None)
    if remembered is None:
        return principal
    found = remembered(principal)
    if found is not None:
        return found
    return await services.run(authenticator.check, principal)  # type: ignore[attr-defined]


async def provide_principal(request: Request[Any, Any, Any],
                            services: NamedDependency[Services]) -> Principal:
    principal = await provide_identity(request, services)
    if not principal.onboarded:
        raise Forbidden("finish setting up your account first: POST /api/auth/onboard",
                        field="username")
    return principal


async def provide_services(request: Request[Any, Any, Any]) -> Services:
    return services_of(request)


def app_dependencies(services: Services) -> dict[str, Provide]:
    """The narrow dependencies routes take by name, each one object of the composition
    root: resolved once per app (`use_cache`), not once per request. A fresh set per app,
    so two apps in one process (tests) never share one's objects."""
    def one(value: Any) -> Provide:
        async def provide() -> Any:
            return value

        provide.__annotations__["return"] = type(value)
        return Provide(provide, use_cache=True)

    return {"services": Provide(provide_services),
            "commands": one(services.commands),
            "reads": one(services.reads),
            "aggregates": one(services.aggregates),
            "settings": one(services.settings),
            "rate_limiter": one(services.rate_limiter),
            "tokens": one(services.tokens),
            "accounts": one(SignedInAccounts(services.authenticator)),
            "credentials": one(Credentials(services.store, services.hasher)),
            "storage": one(UploadStorage(services.storage)),
            "live": one(LiveUpdates(services.bus))}


def parse_id(value: str, what: str) -> UUID:
    """Path ids are UUIDs; anything else names nothing (404, not 500)."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value!r} not found") from None
