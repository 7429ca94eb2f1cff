"""The User aggregate (minimal: who someone is and how they sign in)."""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import Conflict, Forbidden, Invalid, NotFound, TooLong

USERNAME_RE = re.compile(r"^[a-z0-9_]{3,25}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# Names that would read as the platform speaking, or collide with routes.
RESERVED_USERNAMES = frozenset({
    "admin", "administrator", "api", "root", "support", "help", "staff", "moderator",
    "system", "aethex", "aethexlive", "official", "security", "null", "none", "undefined",
    "settings", "login", "logout", "register", "signup", "signin", "onboard", "dashboard",
    "webhooks", "uploads", "static", "www", "mail", "billing", "me", "everyone",
})


def normalise_username(username: str) -> str:
    value = username.strip().lower()
    if not USERNAME_RE.fullmatch(value):
        raise Invalid("username must be 3-25 of a-z, 0-9 and _", field="username")
    if value in RESERVED_USERNAMES:
        raise Invalid(f"the username {value!r} is reserved", field="username")
    return value


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 254 or not EMAIL_RE.fullmatch(value):
        raise Invalid("email is not a valid address", field="email")
    return value


def clean_display_name(display_name: str | None, fallback: str) -> str:
    value = (display_name or "").strip() or fallback
    if len(value) > 50:
        raise TooLong("display name must be at most 50 characters", field="displayName")
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

    @classmethod
    def of_external_identity(cls, user_id: UUID, email: str, username: str,
                             display_name: str) -> User:
        """An account for someone another issuer signs in (no password of ours), with the
        id derived from that identity (`external_user_id`), so two paths to it collide."""
        return cls._create(cls.Registered, id=user_id, email=email, username=username,
                           display_name=display_name, password_hash=None)

    # -- profile, external identity and deletion ---------------------------------
    # Class-level defaults: users registered before these events existed replay to them.
    avatar: str | None = None
    banner: str | None = None
    bio: str | None = None
    social_links: dict[str, str] | None = None
    notification_email: str | None = None
    theme = "dark"
    language = "en"
    onboarded = True
    deleted = False
    identities: tuple[tuple[str, str], ...] = ()

    class ProfileUpdated(Aggregate.Event):
        """Profile fields that changed; None leaves a field as it was, "" clears it."""

        display_name: str | None
        avatar: str | None
        banner: str | None
        bio: str | None
        social_links: dict[str, str] | None
        notification_email: str | None
        theme: str | None
        language: str | None

        def apply(self, user: User) -> None:
            for field in ("display_name", "avatar", "banner", "bio", "notification_email",
                          "theme", "language"):
                value = getattr(self, field)
                if value is not None:
                    setattr(user, field, value or None)  # "" clears
            if self.social_links is not None:
                user.social_links = dict(self.social_links)

    class UsernameChanged(Aggregate.Event):
        old_username: str
        username: str

        def apply(self, user: User) -> None:
            user.username = self.username

    class EmailChanged(Aggregate.Event):
        old_email: str
        email: str

        def apply(self, user: User) -> None:
            user.email = self.email

    class ExternalIdentityLinked(Aggregate.Event):
        """An external issuer's subject now signs in as this user. `provisional`: the account
        was made for the identity (by a webhook) and still awaits onboarding."""

        issuer: str
        subject: str
        provisional: bool

        def apply(self, user: User) -> None:
            user.identities = (*user.identities, (self.issuer, self.subject))
            if self.provisional:
                user.onboarded = False

    class Onboarded(Aggregate.Event):
        """The person chose their username and profile after first signing in elsewhere."""

        username: str
        display_name: str
        avatar: str | None
        bio: str | None

        def apply(self, user: User) -> None:
            user.username = self.username
            user.display_name = self.display_name
            user.avatar = self.avatar or user.avatar
            user.bio = self.bio or user.bio
            user.onboarded = True

    class Deleted(Aggregate.Event):
        reason: str

        def apply(self, user: User) -> None:
            user.deleted = True

    def require_active(self) -> None:
        if self.deleted:
            raise NotFound(f"user {self.id} not found")

    def require_self(self, actor_id: UUID) -> None:
        if actor_id != self.id:
            raise Forbidden("only the account's owner may do this")

    def update_profile(self, **changes: object) -> None:
        """Records the changed profile fields (callers clean them first)."""
        fields = ("display_name", "avatar", "banner", "bio", "social_links",
                  "notification_email", "theme", "language")
        values = {f: changes.get(f) for f in fields}
        current = {f: getattr(self, f) for f in fields}
        effective = {f: v for f, v in values.items()
                     if v is not None and (v or None) != current[f]}
        if effective:
            self.trigger_event(self.ProfileUpdated, **{f: effective.get(f) for f in fields})

    def change_username(self, username: str) -> None:
        if username != self.username:
            self.trigger_event(self.UsernameChanged, old_username=self.username,
                               username=username)

    def change_email(self, email: str) -> None:
        if email != self.email:
            self.trigger_event(self.EmailChanged, old_email=self.email, email=email)

    def link_identity(self, issuer: str, subject: str, *, provisional: bool) -> None:
        if (issuer, subject) not in self.identities:
            self.trigger_event(self.ExternalIdentityLinked, issuer=issuer, subject=subject,
                               provisional=provisional)

    def onboard(self, username: str, display_name: str, avatar: str | None,
                bio: str | None) -> None:
        if self.onboarded:
            raise Conflict("this account is already set up", field="username")
        self.trigger_event(self.Onboarded, username=username, display_name=display_name,
                           avatar=avatar, bio=bio)

    def delete(self, reason: str) -> None:
        if not self.deleted:
            self.trigger_event(self.Deleted, reason=reason)


def external_user_id(issuer: str, subject: str) -> UUID:
    """Our user id for an external identity: derived from (issuer, subject), so the account
    made for it by a webhook and by onboarding is the same aggregate, and two of them
    racing collide in the event store instead of making two accounts."""
    return uuid5(NAMESPACE_URL, f"/aethex/identity/{issuer}/{subject}")
