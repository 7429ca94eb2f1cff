"""Accounts, sign-in answers and public profiles."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType


class AuthUser(msgspec.Struct, rename="camel", kw_only=True):
    """The account in a sign-up or sign-in answer."""

    id: str
    email: str
    username: str
    display_name: str
    created_at: str


class Session(msgspec.Struct, rename="camel", kw_only=True):
    """A sign-in: the account and a bearer token for it."""

    user: AuthUser
    token: str
    token_type: str
    expires_in: int


class Registration(Session, kw_only=True):
    """A sign-up: the new account, its token, and the position of its creation."""

    position: int


class Account(msgspec.Struct, rename="camel", kw_only=True):
    """The account as its owner sees it."""

    id: str
    email: str | None
    username: str
    display_name: str
    avatar: str | None
    banner: str | None
    bio: str | None
    social_links: dict[str, str]
    notification_email: str | None
    theme: str
    language: str
    onboarded: bool
    created_at: str


class AccountChange(Account, kw_only=True):
    """An onboarding or profile edit: the account after it; `token` is a new local token,
    sent when the username or display name it carries changed."""

    position: int
    token: str | UnsetType = UNSET


class Me(msgspec.Struct, rename="camel", kw_only=True):
    """Who-am-I: the account, or, for an external sign-in that has not onboarded yet,
    only `id`, `email`, `issuer` and `onboarded: false` (username and display name null)."""

    id: str
    email: str | None
    username: str | None
    display_name: str | None
    onboarded: bool
    issuer: str | UnsetType | None = UNSET
    avatar: str | UnsetType | None = UNSET
    banner: str | UnsetType | None = UNSET
    bio: str | UnsetType | None = UNSET
    social_links: dict[str, str] | UnsetType = UNSET
    notification_email: str | UnsetType | None = UNSET
    theme: str | UnsetType = UNSET
    language: str | UnsetType = UNSET
    created_at: str | UnsetType = UNSET


class Profile(msgspec.Struct, rename="camel", kw_only=True):
    """A user's public profile with follower and following counts."""

    id: str
    username: str
    display_name: str
    avatar: str | None
    banner: str | None
    bio: str | None
    social_links: dict[str, str]
    follower_count: int
    following_count: int
    created_at: str
    updated_at: str
