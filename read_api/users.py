"""Accounts and profiles: onboarding after an external sign-in, who-am-I with the
profile, profile edits by their owner, public profiles, and following users."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import Meta

from commands.onboard_user import OnboardUser, onboard_user
from commands.ports import Store
from commands.update_profile import UpdateProfile, update_profile
from domain.errors import Forbidden, Invalid, NotFound
from domain.user import User
from infra.auth import Principal
from read_api.deps import parse_id, provide_identity, provide_principal
from read_api.following import followers_page, set_following
from read_api.services import Services
from read_api.social_queries import get_profile, list_following, page_limit

PROFILE_READ_MODELS = ("users", "follows")
Short = Annotated[str, Meta(max_length=200)]
Url = Annotated[str, Meta(max_length=1000)]


class OnboardBody(msgspec.Struct, rename="camel"):
    """The onboarding form."""

    username: Annotated[str, Meta(min_length=1, max_length=64)]
    display_name: Short | None = None
    avatar: Url | None = None
    bio: Annotated[str, Meta(max_length=5000)] | None = None


class ProfileBody(msgspec.Struct, rename="camel"):
    """Profile fields to change; absent ones stay, "" clears one."""

    username: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    display_name: Short | None = None
    avatar: Url | None = None
    banner: Url | None = None
    bio: Annotated[str, Meta(max_length=5000)] | None = None
    social_links: Annotated[dict[Short, Url], Meta(max_length=20)] | None = None
    notification_email: Annotated[str, Meta(max_length=254)] | None = None
    theme: Annotated[str, Meta(max_length=20)] | None = None
    language: Annotated[str, Meta(max_length=20)] | None = None


def account_view(user: User) -> dict[str, Any]:
    """The account as its owner sees it (from the aggregate: always current)."""
    return {
        "id": str(user.id),
        "email": user.email or None,
        "username": user.username,
        "displayName": user.display_name,
        "avatar": user.avatar,
        "banner": user.banner,
        "bio": user.bio,
        "socialLinks": dict(user.social_links or {}),
        "notificationEmail": user.notification_email,
        "theme": user.theme,
        "language": user.language,
        "onboarded": user.onboarded,
        "createdAt": user.created_on.isoformat(),
    }


def me_view(store: Store, principal: Principal) -> dict[str, Any]:
    user = store.find(principal.user_id, User)
    if user is None or user.deleted:
        if principal.onboarded or user is not None:
            raise NotFound(f"user {principal.user_id} not found")
        return {"id": str(principal.user_id), "email": principal.email, "username": None,
                "displayName": None, "onboarded": False, "issuer": principal.issuer}
    return account_view(user)


auth = {"principal": Provide(provide_principal)}
identity = {"principal": Provide(provide_identity)}


def _fresh_token(services: Services, principal: Principal, user: User) -> dict[str, Any]:
    """Our own tokens carry the username: a new one after it changes (external tokens
    are looked up on every request, so they need none)."""
    if principal.issuer is not None:
        return {}
    if (user.username, user.display_name) == (principal.username, principal.display_name):
        return {}
    return {"token": services.tokens.issue(user.id, user.username, user.display_name)}


async def _update(services: Services, principal: Principal, user_id: UUID,
                  data: ProfileBody) -> dict[str, Any]:
    result = await services.run(update_profile, UpdateProfile(
        actor_id=principal.user_id, user_id=user_id, username=data.username,
        display_name=data.display_name, avatar=data.avatar, banner=data.banner, bio=data.bio,
        social_links=data.social_links, notification_email=data.notification_email,
        theme=data.theme, language=data.language), services.store)
    return {**account_view(result.user), "position": result.position,
            **_fresh_token(services, principal, result.user)}


class ProfileController(Controller):
    """Onboarding and the caller's own profile, beside sign-up and sign-in."""

    path = "/api/auth"
    tags = ["auth"]

    @post("/onboard", status_code=201, dependencies=identity)
    async def onboard(
        self, data: JSONBody[OnboardBody], principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """After a first external sign-in: choose username, display name, avatar, bio."""
        if principal.issuer is None or principal.subject is None:
            raise Forbidden("accounts made here are set up at registration", field="username")
        result = await services.run(onboard_user, OnboardUser(
            user_id=principal.user_id, issuer=principal.issuer, subject=principal.subject,
            username=data.username, display_name=data.display_name, avatar=data.avatar,
            bio=data.bio, email=principal.email), services.store)
        return {**account_view(result.user), "position": result.position}

    @put("/profile", dependencies=auth)
    async def update_own(
        self, data: JSONBody[ProfileBody], principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Changes the caller's profile."""
        return await _update(services, principal, principal.user_id, data)


class UserController(Controller):
    """Public profiles, owner-only edits, and following users."""

    path = "/api/users"
    tags = ["users"]

    @get("/{user_id:str}")
    async def by_id(
        self, user_id: FromPath[str], services: NamedDependency[Services],
        after: FromQuery[int | None] = None,
    ) -> dict[str, Any]:
        """A user's public profile with follower and following counts."""
        uid = parse_id(user_id, "user")
        await services.positions.wait(PROFILE_READ_MODELS, after,
                                      services.settings.read_wait_timeout_s)
        view = await services.run(get_profile, services.db, str(uid))
        if view is None:
            raise NotFound(f"user {user_id!r} not found")
        return view

    @put("/{user_id:str}", dependencies=auth)
    async def update(
        self, user_id: FromPath[str], data: JSONBody[ProfileBody],
        principal: NamedDependency[Principal], services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Changes a user's profile (the owner only)."""
        return await _update(services, principal, parse_id(user_id, "user"), data)

    @post("/{user_id:str}/follow", status_code=200, dependencies=auth)
    async def follow_user(
        self, user_id: FromPath[str], principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Follows a user (again: no change)."""
        return await set_following(services, principal, "user", user_id, True)

    @delete("/{user_id:str}/follow", status_code=200, dependencies=auth)
    async def unfollow_user(
        self, user_id: FromPath[str], principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Stops following a user (not following: no change)."""
        return await set_following(services, principal, "user", user_id, False)

    @get("/{user_id:str}/followers")
    async def followers(
        self, user_id: FromPath[str], services: NamedDependency[Services],
        cursor: FromQuery[int | None] = None, limit: FromQuery[int] = 20,
        after: FromQuery[int | None] = None,
    ) -> dict[str, Any]:
        """Who follows this user, most recent first; pass `nextCursor` back as `cursor`."""
        return await followers_page(services, "user", user_id, PROFILE_READ_MODELS,
                                    cursor=cursor, limit=limit, after=after)

    @get("/{user_id:str}/following")
    async def following(
        self, user_id: FromPath[str], services: NamedDependency[Services],
        kind: FromQuery[str] = "user", cursor: FromQuery[int | None] = None,
        limit: FromQuery[int] = 20, after: FromQuery[int | None] = None,
    ) -> dict[str, Any]:
        """The users (`kind=user`) or channels (`kind=channel`) this user follows."""
        if kind not in ("user", "channel"):
            raise Invalid("kind must be 'user' or 'channel'", field="kind")
        uid = parse_id(user_id, "user")
        await services.positions.wait(PROFILE_READ_MODELS, after,
                                      services.settings.read_wait_timeout_s)
        items, next_cursor = await services.run(
            list_following, services.db, str(uid), kind, cursor=cursor, limit=page_limit(limit))
        return {"items": items, "nextCursor": next_cursor}
