"""SyncExternalUser: an identity provider (Clerk) tells us a user was created, updated or
deleted. Applied once per delivery: the receipt is saved with the change."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

import msgspec

from commands.claims import free_name, take_name
from commands.ports import Store
from domain.errors import Conflict, Invalid
from domain.profile import clean_image_url
from domain.unique_name import UniqueName
from domain.user import (
    User,
    clean_display_name,
    external_user_id,
    normalise_email,
    normalise_username,
)
from domain.webhook_receipt import WebhookReceipt

PROVIDER = "clerk"


class SyncExternalUser(msgspec.Struct, frozen=True, kw_only=True):
    """The command: one webhook delivery about one external user."""

    delivery_id: str
    change: Literal["created", "updated", "deleted"]
    issuer: str
    subject: str
    email: str | None = None
    username: str | None = None
    display_name: str | None = None
    avatar: str | None = None


class ExternalUserSynced(msgspec.Struct, frozen=True, kw_only=True):
    """What happened: a duplicate delivery changes nothing (position 0)."""

    duplicate: bool
    position: int
    user_id: str


def _provisional_username(store: Store, cmd: SyncExternalUser) -> str:
    """The provider's username when it is valid and free, else one derived from the subject
    (the person picks theirs when onboarding)."""
    if cmd.username:
        try:
            wanted = normalise_username(cmd.username)
        except Invalid:
            wanted = ""
        if wanted and store.find(UniqueName.create_id("username", wanted), UniqueName) is None:
            return wanted
    digest = hashlib.sha256(f"{cmd.issuer}/{cmd.subject}".encode()).hexdigest()
    return f"user_{digest[:12]}"


def _email(cmd: SyncExternalUser) -> str:
    if not cmd.email:
        return ""
    try:
        return normalise_email(cmd.email)
    except Invalid:
        return ""


def _avatar(cmd: SyncExternalUser) -> str | None:
    if not cmd.avatar:
        return None
    try:
        return clean_image_url(cmd.avatar, "avatar")
    except Invalid:
        return None


def sync_external_user(cmd: SyncExternalUser, store: Store) -> ExternalUserSynced:
    user_id = external_user_id(cmd.issuer, cmd.subject)
    receipt_id = WebhookReceipt.create_id(PROVIDER, cmd.delivery_id)
    if store.find(receipt_id, WebhookReceipt) is not None:
        return ExternalUserSynced(duplicate=True, position=0, user_id=str(user_id))
    user = store.find(user_id, User)
    claims: list[UniqueName | None] = []
    outcome = f"applied: {cmd.change}"
    if user is not None and user.deleted:
        outcome = "ignored: the user is deleted"
    elif user is None and cmd.change == "deleted":
        outcome = "ignored: no such user"
    if cmd.change == "deleted":
        if user is not None and not user.deleted:
            user.delete("deleted at the identity provider")
            claims.append(free_name(store, "username", user.username, user.id))
            claims.append(free_name(store, "email", user.email, user.id))
    elif user is None:
        username = _provisional_username(store, cmd)
        email = _email(cmd)
        claims.append(take_name(store, "username", username, user_id, field="username",
                                taken="this username is taken"))
        if email and store.find(UniqueName.create_id("email", email), UniqueName) is None:
            claims.append(UniqueName.claim("email", email, user_id))
        else:
            email = ""  # held by another account: kept off this one rather than failing
        user = User.of_external_identity(
            user_id, email, username, clean_display_name(cmd.display_name, username))
        user.link_identity(cmd.issuer, cmd.subject, provisional=True)
        user.update_profile(avatar=_avatar(cmd))
    elif not user.deleted:
        email = _email(cmd)
        if email and email != user.email:
            claim = take_name(store, "email", email, user.id, field="email",
                              taken="this email belongs to another account")
            claims += [claim, free_name(store, "email", user.email, user.id)]
            user.change_email(email)
        display_name = (cmd.display_name or "").strip()[:50]
        user.update_profile(display_name=display_name or None, avatar=_avatar(cmd))
    receipt = WebhookReceipt.record(
        provider=PROVIDER, event_id=cmd.delivery_id, event_type=f"user.{cmd.change}",
        received_at=datetime.now(UTC), subject=cmd.subject, outcome=outcome)
    aggregates = [a for a in (user, *claims) if a is not None]
    try:
        position = store.save(*aggregates, receipt)
    except Conflict:
        if store.find(receipt_id, WebhookReceipt) is not None:
            return ExternalUserSynced(duplicate=True, position=0, user_id=str(user_id))
        raise
    return ExternalUserSynced(duplicate=False, position=position, user_id=str(user_id))
