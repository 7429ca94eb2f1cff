"""Sign-up, sign-in and who-am-I."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, JSONBody

from commands.bus import CommandBus
from commands.register_user import RegisterUser
from domain.errors import Unauthenticated
from domain.user import User
from infra.identity.auth import LocalTokens, Principal
from infra.shared_state.rate_limit import LoginThrottle
from read_api.async_ports import Credentials
from read_api.deps import provide_identity
from read_api.openapi import BEARER, problems
from read_api.reads import Aggregates
from read_api.schemas import LoginBody, RegisterBody
from read_api.users import me_view
from read_api.views.user import Me, Registration, Session


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "username": user.username,
        "displayName": user.display_name,
        "createdAt": user.created_on.isoformat(),
    }


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/register", status_code=201, operation_id="registerUser",
          responses=problems(409, 415, 422))
    async def register(
        self, data: JSONBody[RegisterBody], commands: NamedDependency[CommandBus],
        tokens: NamedDependency[LocalTokens],
    ) -> Registration:
        """Creates an account and returns it with an access token."""
        result = await commands.execute(
            RegisterUser(
                email=data.email,
                username=data.username,
                password=data.password,
                display_name=data.display_name,
            )
        )
        user = result.user
        token = tokens.issue(user.id, user.username, user.display_name)
        return {
            "user": user_view(user),
            "token": token,
            "tokenType": "Bearer",
            "expiresIn": tokens.ttl_s,
            "position": result.position,
        }

    @post("/login", status_code=200, operation_id="logIn",
          responses=problems(401, 415, 422, 429))
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginBody],
        credentials: NamedDependency[Credentials], tokens: NamedDependency[LocalTokens],
    ) -> Session:
        """Exchanges email and password for an access token. Failed attempts are limited
        per account and per client address (429 with `Retry-After`)."""
        throttle: LoginThrottle = request.app.state.login_throttle
        account = data.email.strip().lower()
        address = request.client.host if request.client else "-"
        await throttle.check(account, address)
        try:
            user = await credentials.check(data.email, data.password)
        except Unauthenticated:
            await throttle.failed(account, address)
            raise
        await throttle.succeeded(account, address)
        token = tokens.issue(user.id, user.username, user.display_name)
        return {
            "user": user_view(user),
            "token": token,
            "tokenType": "Bearer",
            "expiresIn": tokens.ttl_s,
        }

    @get("/user", dependencies={"principal": Provide(provide_identity)},
         operation_id="getCurrentUser", security=BEARER,
         responses=problems(404, 422, auth=True))
    async def current_user(
        self, principal: NamedDependency[Principal], aggregates: NamedDependency[Aggregates],
        after: FromQuery[int | None] = None,
    ) -> Me:
        """The signed-in user with their profile (read from the event store: always current);
        an external sign-in that has not onboarded yet gets `onboarded: false`."""
        await aggregates.current(after)
        return await me_view(aggregates, principal)
