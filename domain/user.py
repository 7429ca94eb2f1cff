"""The User aggregate (minimal: who someone is and how they sign in)."""

from __future__ import annotations

import re

from eventsourcing.domain import Aggregate

from domain.errors import Invalid

USERNAME_RE = re.compile(r"^[a-z0-9_]{3,25}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_username(username: str) -> str:
    value = username.strip().lower()
    if not USERNAME_RE.fullmatch(value):
        raise Invalid("username must be 3-25 of a-z, 0-9 and _", field="username")
    return value


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 254 or not EMAIL_RE.fullmatch(value):
        raise Invalid("email is not a valid address", field="email")
    return value


def clean_display_name(display_name: str | None, fallback: str) -> str:
    value = (display_name or "").strip() or fallback
    if len(value) > 50:
        raise Invalid("display name must be at most 50 characters", field="displayName")
    return value


class User(Aggregate):
    """A person with an account. The password hash is argon2id, never the password."""

    class Registered(Aggregate.Created):
        email: str
        username: str
        display_name: str
        password_hash: str | None

    def __init__(
        self, email: str, username: str, display_name: str, password_hash: str | None
    ) -> None:
        self.email = email
        self.username = username
        self.display_name = display_name
        self.password_hash = password_hash
