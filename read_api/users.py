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

from commands.bus import CommandBus
from commands.onboard_user import OnboardUser
from commands.update_profile import UpdateProfile
from domain.errors import Forbidden, Invalid, NotFound
from domain.user import User
from infra.identity.auth import LocalTokens, Principal
from infra.settings import Settings
from projections.base import page_limit
from projections.channel_page import channels_of_owner
from projections.follows import list_following
from projections.profiles import get_profile
from read_api.channels import CHANNEL_READ_MODELS
from read_api.deps import parse_id, provide_identity, provide_principal
from read_api.following import followers_page, set_following
from read_api.openapi import BEARER, problems
from read_api.paging import Cursor, Limit
from read_api.reads import Aggregates, ReadModels
from read_api.views.channel import OwnChannelList
from read_api.views.follow import FollowedPage, FollowerPage, UserFollowChange
from read_api.views.user import AccountChange, Profile

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


async def me_view(aggregates: Aggregates, principal: Principal) -> dict[str, Any]:
    user = await aggregates.find(principal.user_id, User)
    if user is None or user.deleted:
        if principal.onboarded or user is not None:
            raise NotFound(f"user {principal.user_id} not found")
        return {"id": str(principal.user_id), "email": principal.email, "username": None,
                "displayName": None, "onboarded": False, "issuer": principal.issuer}
    return account_view(user)


auth = {"principal": Provide(provide_principal)}
identity = {"principal": Provide(provide_identity)}


def _fresh_token(tokens: LocalTokens, principal: Principal, user: User) -> dict[str, Any]:
    """Our own tokens carry the username: a new one after it changes (external tokens
    are looked up on every request, so they need none)."""
    if principal.issuer is not None:
        return {}
    if (user.username, user.display_name) == (principal.username, principal.display_name):
        return {}
    return {"token": tokens.issue(user.id, user.username, user.display_name)}


async def _update(commands: CommandBus, tokens: LocalTokens, principal: Principal,
                  user_id: UUID, data: ProfileBody) -> dict[str, Any]:
    result = await commands.execute(UpdateProfile(
        actor_id=principal.user_id, user_id=user_id, username=data.username,
        display_name=data.display_name, avatar=data.avatar, banner=data.banner, bio=data.bio,
        social_links=data.social_links, notification_email=data.notification_email,
        theme=data.theme, language=data.language))
    return {**account_view(result.user), "position": result.position,
            **_fresh_token(tokens, principal, result.user)}


class ProfileController(Controller):
    """Onboarding and the caller's own profile, beside sign-up and sign-in."""

    path = "/api/auth"
    tags = ["auth"]

    @post("/onboard", status_code=201, dependencies=identity, operation_id="onboardUser",
          security=BEARER, responses=problems(403, 404, 409, 415, 422, auth=True))
    async def onboard(
        self, data: JSONBody[OnboardBody], principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> AccountChange:
        """After a first external sign-in: choose username, display name, avatar, bio."""
        if principal.issuer is None or principal.subject is None:
            raise Forbidden("accounts made here are set up at registration", field="username")
        result = await commands.execute(OnboardUser(
            user_id=principal.user_id, issuer=principal.issuer, subject=principal.subject,
            username=data.username, display_name=data.display_name, avatar=data.avatar,
            bio=data.bio, email=principal.email))
        return {**account_view(result.user), "position": result.position}

    @put("/profile", dependencies=auth, operation_id="updateOwnProfile", security=BEARER,
         responses=problems(403, 404, 409, 415, 422, auth=True))
    async def update_own(
        self, data: JSONBody[ProfileBody], principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus], tokens: NamedDependency[LocalTokens],
    ) -> AccountChange:
        """Changes the caller's profile."""
        return await _update(commands, tokens, principal, principal.user_id, data)

    @get("/channels", dependencies=auth, operation_id="listMyChannels", security=BEARER,
         responses=problems(403, 422, 503, auth=True))
    async def my_channels(
        self, principal: NamedDependency[Principal], reads: NamedDependency[ReadModels],
        settings: NamedDependency[Settings], after: FromQuery[int | None] = None,
    ) -> OwnChannelList:
        """The caller's channels, private ones too, each as its page answers it (a
        dashboard's list); `?after=` the position of a channel just created to see it."""
        await reads.caught_up(CHANNEL_READ_MODELS, after)
        items = await reads.query(channels_of_owner, str(principal.user_id),
                                  stream_url=settings.ingest_rtmp_url)
        return {"items": items}


class UserController(Controller):
    """Public profiles, owner-only edits, and following users."""

    path = "/api/users"
    tags = ["users"]

    @get("/{user_id:str}", operation_id="getUser", responses=problems(404, 422, 503))
    async def by_id(
        self, user_id: FromPath[str], reads: NamedDependency[ReadModels],
        after: FromQuery[int | None] = None,
    ) -> Profile:
        """A user's public profile with follower and following counts."""
        uid = parse_id(user_id, "user")
        await reads.caught_up(PROFILE_READ_MODELS, after)
        view = await reads.query(get_profile, str(uid))
        if view is None:
            raise NotFound(f"user {user_id!r} not found")
        return view

    @put("/{user_id:str}", dependencies=auth, operation_id="updateUserProfile", security=BEARER,
         responses=problems(403, 404, 409, 415, 422, auth=True))
    async def update(
        self, user_id: FromPath[str], data: JSONBody[ProfileBody],
        principal: NamedDependency[Principal], commands: NamedDependency[CommandBus],
        tokens: NamedDependency[LocalTokens],
    ) -> AccountChange:
        """Changes a user's profile (the owner only)."""
        return await _update(commands, tokens, principal, parse_id(user_id, "user"), data)

    @post("/{user_id:str}/follow", status_code=200, dependencies=auth, operation_id="followUser",
          security=BEARER, responses=problems(403, 404, 422, auth=True))
    async def follow_user(
        self, user_id: FromPath[str], principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> UserFollowChange:
        """Follows a user (again: no change)."""
        return await set_following(commands, principal, "user", user_id, True)

    @delete("/{user_id:str}/follow", status_code=200, dependencies=auth,
            operation_id="unfollowUser", security=BEARER,
            responses=problems(403, 404, 422, auth=True))
    async def unfollow_user(
        self, user_id: FromPath[str], principal: NamedDependency[Principal],
        commands: NamedDependency[CommandBus],
    ) -> UserFollowChange:
        """Stops following a user (not following: no change)."""
        return await set_following(commands, principal, "user", user_id, False)

    @get("/{user_id:str}/followers", operation_id="listUserFollowers",
         responses=problems(404, 422, 503))
    async def followers(
        self, user_id: FromPath[str], reads: NamedDependency[ReadModels],
        cursor: Cursor = None, limit: Limit = 20, after: FromQuery[int | None] = None,
    ) -> FollowerPage:
        """Who follows this user, most recent first; pass `nextCursor` back as `cursor`."""
        return await followers_page(reads, "user", user_id, PROFILE_READ_MODELS,
                                    cursor=cursor, limit=limit, after=after)

    @get("/{user_id:str}/following", operation_id="listUserFollowing",
         responses=problems(404, 422, 503))
    async def following(
        self, user_id: FromPath[str], reads: NamedDependency[ReadModels],
        kind: FromQuery[str] = "user", cursor: Cursor = None,
        limit: Limit = 20, after: FromQuery[int | None] = None,
    ) -> FollowedPage:
        """The users (`kind=user`) or channels (`kind=channel`) this user follows."""
        if kind not in ("user", "channel"):
            raise Invalid("kind must be 'user' or 'channel'", field="kind")
        uid = parse_id(user_id, "user")
        await reads.caught_up(PROFILE_READ_MODELS, after)
        items, next_cursor = await reads.query(
            list_following, str(uid), kind, cursor=cursor, limit=page_limit(limit))
        return {"items": items, "nextCursor": next_cursor}
