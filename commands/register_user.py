"""RegisterUser: an account with email, username, display name and password."""

from __future__ import annotations

import msgspec

from commands.claims import take_name
from commands.ports import PasswordHasher, Store
from domain.errors import Conflict, Invalid
from domain.unique_name import UniqueName
from domain.user import User, clean_display_name, normalise_email, normalise_username


class RegisterUser(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    username: str
    password: str
    display_name: str | None = None


class UserRegistered(msgspec.Struct, frozen=True, kw_only=True):
    user: User
    position: int


def register_user(cmd: RegisterUser, store: Store, hasher: PasswordHasher) -> UserRegistered:
    email = normalise_email(cmd.email)
    username = normalise_username(cmd.username)
    display_name = clean_display_name(cmd.display_name, cmd.username.strip())
    if not 8 <= len(cmd.password) <= 128:
        raise Invalid("password must be 8-128 characters", field="password")
    # Checked before the (deliberately slow) hash; a name given up is free again.
    for kind, name, taken in (("email", email, "an account with this email exists"),
                              ("username", username, "this username is taken")):
        held = store.find(UniqueName.create_id(kind, name), UniqueName)
        if held is not None and not held.released:
            raise Conflict(taken, field=kind)
    user = User(email=email, username=username, display_name=display_name,
                password_hash=hasher.hash(cmd.password))
    claims = [c for c in (
        take_name(store, "email", email, user.id, field="email",
                  taken="an account with this email exists"),
        take_name(store, "username", username, user.id, field="username",
                  taken="this username is taken")) if c is not None]
    try:
        position = store.save(user, *claims)
    except Conflict:  # lost a race for the same email or username
        raise Conflict("this email or username was just taken", field="username") from None
    return UserRegistered(user=user, position=position)
