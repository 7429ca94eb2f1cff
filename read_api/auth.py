"""Sign-up, sign-in and who-am-I."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from commands.register_user import RegisterUser, register_user
from domain.errors import Unauthenticated
from domain.unique_name import UniqueName
from domain.user import User, normalise_email
from infra.auth import Principal
from infra.rate_limit import LoginThrottle
from read_api.deps import provide_identity
from read_api.schemas import LoginBody, RegisterBody
from read_api.services import Services
from read_api.users import me_view


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "username": user.username,
        "displayName": user.display_name,
        "createdAt": user.created_on.isoformat(),
    }


def _log_in(services: NamedDependency[Services], email: str, password: str) -> User:
    refused = Unauthenticated("wrong email or password")
    try:
        email = normalise_email(email)
    except Exception:
        raise refused from None
    claim = services.store.find(UniqueName.create_id("email", email), UniqueName)
    user = services.store.find(claim.owner_id, User) if claim else None
    if user is None or not user.password_hash:
        services.hasher.verify(_DUMMY_HASH, password)  # same cost whether or not the email exists
        raise refused
    if not services.hasher.verify(user.password_hash, password):
        raise refused
    return user


# A real argon2id hash of a random string: verifying against it costs what a real check does.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$n8bcZsT3Z8mcIVkf33PlgQ$"
    "RjZWsDotWjsPkVRylphkOfoVS/z2bSGJ5gtPNUpAG98"
)


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/register", status_code=201)
    async def register(
        self, data: JSONBody[RegisterBody], services: NamedDependency[Services]
    ) -> dict[str, Any]:
        """Creates an account and returns it with an access token."""
        result = await services.run(
            register_user,
            RegisterUser(
                email=data.email,
                username=data.username,
                password=data.password,
                display_name=data.display_name,
            ),
            services.store,
            services.hasher,
        )
        user = result.user
        token = services.tokens.issue(user.id, user.username, user.display_name)
        return {
            "user": user_view(user),
            "token": token,
            "tokenType": "Bearer",
            "expiresIn": services.tokens.ttl_s,
            "position": result.position,
        }

    @post("/login", status_code=200)
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginBody],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Exchanges email and password for an access token. Failed attempts are limited
        per account and per client address (429 with `Retry-After`)."""
        throttle: LoginThrottle = request.app.state.login_throttle
        account = data.email.strip().lower()
        address = request.client.host if request.client else "-"
        await throttle.check(account, address)
        try:
            user = await services.run(_log_in, services, data.email, data.password)
        except Unauthenticated:
            await throttle.failed(account, address)
            raise
        await throttle.succeeded(account, address)
        token = services.tokens.issue(user.id, user.username, user.display_name)
        return {
            "user": user_view(user),
            "token": token,
            "tokenType": "Bearer",
            "expiresIn": services.tokens.ttl_s,
        }

    @get("/user", dependencies={"principal": Provide(provide_identity)})
    async def current_user(
        self, principal: NamedDependency[Principal], services: NamedDependency[Services]
    ) -> dict[str, Any]:
        """The signed-in user with their profile (read from the event store: always current);
        an external sign-in that has not onboarded yet gets `onboarded: false`."""
        return await services.run(me_view, services.store, principal)
