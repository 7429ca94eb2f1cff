"""UpdateProfile: the owner changes their username, display name, avatar, banner, bio,
social links, notification email, theme or language."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.claims import free_name, take_name
from commands.ports import Store
from domain.errors import Conflict
from domain.profile import (
    clean_bio,
    clean_image_url,
    clean_language,
    clean_notification_email,
    clean_social_links,
    clean_theme,
)
from domain.unique_name import UniqueName
from domain.user import User, clean_display_name, normalise_username


class UpdateProfile(msgspec.Struct, frozen=True, kw_only=True):
    """The command: who acts, whose profile, and the fields to change (None: keep)."""

    actor_id: UUID
    user_id: UUID
    username: str | None = None
    display_name: str | None = None
    avatar: str | None = None
    banner: str | None = None
    bio: str | None = None
    social_links: dict[str, str] | None = None
    notification_email: str | None = None
    theme: str | None = None
    language: str | None = None


class ProfileUpdated(msgspec.Struct, frozen=True, kw_only=True):
    """The account after the change, and the position of its last event."""

    user: User
    position: int


def update_profile(cmd: UpdateProfile, store: Store) -> ProfileUpdated:
    user = store.get(cmd.user_id, User, what="user")
    user.require_active()
    user.require_self(cmd.actor_id)
    claims: list[UniqueName | None] = []
    if cmd.username is not None:
        username = normalise_username(cmd.username)
        if username != user.username:
            claims.append(take_name(store, "username", username, user.id, field="username",
                                    taken="this username is taken"))
            claims.append(free_name(store, "username", user.username, user.id))
            user.change_username(username)
    user.update_profile(
        display_name=None if cmd.display_name is None
        else clean_display_name(cmd.display_name, user.username),
        avatar=None if cmd.avatar is None else clean_image_url(cmd.avatar, "avatar"),
        banner=None if cmd.banner is None else clean_image_url(cmd.banner, "banner"),
        bio=None if cmd.bio is None else clean_bio(cmd.bio),
        social_links=None if cmd.social_links is None else clean_social_links(cmd.social_links),
        notification_email=None if cmd.notification_email is None
        else clean_notification_email(cmd.notification_email),
        theme=None if cmd.theme is None else clean_theme(cmd.theme),
        language=None if cmd.language is None else clean_language(cmd.language),
    )
    try:
        position = store.save(user, *(c for c in claims if c is not None))
    except Conflict:
        raise Conflict("this username was just taken", field="username") from None
    return ProfileUpdated(user=user, position=position)
