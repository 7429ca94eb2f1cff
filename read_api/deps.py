"""Request dependencies: who is calling, and the service container."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request
from litestar.di import NamedDependency, Provide

from commands.bus import CommandBus
from domain.errors import Forbidden, NotFound, Unauthenticated
from infra import metrics
from infra.auth import LocalTokens, Principal
from infra.rate_limit import ChatRateLimiter
from infra.settings import Settings
from read_api.adapters import Credentials, UploadStorage
from read_api.effects import IngestSignals, LiveUpdates
from read_api.reads import Aggregates, ReadModels
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


# The narrow dependencies routes take by name (`commands`, `reads`, `aggregates`,
# `settings`, `rate_limiter`): each is one object of the composition root, the same for
# every request.

async def provide_commands(request: Request[Any, Any, Any]) -> CommandBus:
    return services_of(request).commands


async def provide_reads(request: Request[Any, Any, Any]) -> ReadModels:
    return services_of(request).reads


async def provide_aggregates(request: Request[Any, Any, Any]) -> Aggregates:
    return services_of(request).aggregates


async def provide_settings(request: Request[Any, Any, Any]) -> Settings:
    return services_of(request).settings


async def provide_rate_limiter(request: Request[Any, Any, Any]) -> ChatRateLimiter:
    return services_of(request).rate_limiter


# `ingest` and `live` are thin wrappers, made per request, over one object of the
# composition root each (the ingest lifecycle, the event bus).

def _count_command(name: str) -> None:
    metrics.COMMANDS.labels(name).inc()


async def provide_ingest(request: Request[Any, Any, Any]) -> IngestSignals:
    return IngestSignals(services_of(request).ingest, _count_command)


async def provide_live(request: Request[Any, Any, Any]) -> LiveUpdates:
    return LiveUpdates(services_of(request).bus)


async def provide_tokens(request: Request[Any, Any, Any]) -> LocalTokens:
    return services_of(request).tokens


# `credentials` and `storage` are thin wrappers, made per request, over the composition
# root's store and hasher, and its upload storage.

async def provide_credentials(request: Request[Any, Any, Any]) -> Credentials:
    services = services_of(request)
    return Credentials(services.store, services.hasher)


async def provide_storage(request: Request[Any, Any, Any]) -> UploadStorage:
    return UploadStorage(services_of(request).storage)


APP_DEPENDENCIES = {"services": Provide(provide_services),
                    "commands": Provide(provide_commands),
                    "reads": Provide(provide_reads),
                    "aggregates": Provide(provide_aggregates),
                    "settings": Provide(provide_settings),
                    "rate_limiter": Provide(provide_rate_limiter),
                    "tokens": Provide(provide_tokens),
                    "credentials": Provide(provide_credentials),
                    "storage": Provide(provide_storage),
                    "ingest": Provide(provide_ingest),
                    "live": Provide(provide_live)}


def parse_id(value: str, what: str) -> UUID:
    """Path ids are UUIDs; anything else names nothing (404, not 500)."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value!r} not found") from None
