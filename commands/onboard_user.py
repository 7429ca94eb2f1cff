"""OnboardUser: someone signed in through an external issuer chooses their username,
display name, avatar and bio; the account is made now if no webhook made it before."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.claims import free_name, take_name
from commands.ports import Store
from domain.errors import Conflict, NotFound
from domain.profile import clean_bio, clean_image_url
from domain.unique_name import UniqueName
from domain.user import User, clean_display_name, normalise_email, normalise_username


class OnboardUser(msgspec.Struct, frozen=True, kw_only=True):
    """The command: the identity (from the verified token) and the chosen profile."""

    user_id: UUID
    issuer: str
    subject: str
    username: str
    display_name: str | None = None
    avatar: str | None = None
    bio: str | None = None
    email: str | None = None  # from the token's claims, when the issuer sends one


class UserOnboarded(msgspec.Struct, frozen=True, kw_only=True):
    """The account as set up, and the position of its last event."""

    user: User
    position: int


def onboard_user(cmd: OnboardUser, store: Store) -> UserOnboarded:
    username = normalise_username(cmd.username)
    display_name = clean_display_name(cmd.display_name, cmd.username.strip())
    avatar = clean_image_url(cmd.avatar, "avatar") if cmd.avatar is not None else None
    bio = clean_bio(cmd.bio) if cmd.bio is not None else None
    taken = "this username is taken"
    user = store.find(cmd.user_id, User)
    claims: list[UniqueName | None] = []
    if user is not None:
        if user.deleted:
            raise NotFound(f"user {cmd.user_id} not found")
        if user.onboarded:
            raise Conflict("this account is already set up", field="username")
        if username != user.username:
            claims.append(take_name(store, "username", username, user.id, field="username",
                                    taken=taken))
            claims.append(free_name(store, "username", user.username, user.id))
        user.onboard(username, display_name, avatar or None, bio or None)
    else:
        claims.append(take_name(store, "username", username, cmd.user_id, field="username",
                                taken=taken))
        email = ""
        if cmd.email:
            candidate = normalise_email(cmd.email)
            if store.find(UniqueName.create_id("email", candidate), UniqueName) is None:
                email = candidate
                claims.append(UniqueName.claim("email", email, cmd.user_id))
        user = User.of_external_identity(cmd.user_id, email, username, display_name)
        user.link_identity(cmd.issuer, cmd.subject, provisional=False)
        user.update_profile(avatar=avatar, bio=bio)
    try:
        position = store.save(user, *(c for c in claims if c is not None))
    except Conflict:
        raise Conflict("this username was just taken, or the account was just set up",
                       field="username") from None
    return UserOnboarded(user=user, position=position)
