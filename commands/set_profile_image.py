"""SetProfileImage: an image our storage has checked and stored becomes the user's avatar
or profile banner (the URL comes from storage, not from the client)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec

from commands.ports import Store
from domain.user import User


class SetProfileImage(msgspec.Struct, frozen=True, kw_only=True):
    """The command: whose profile, which image, and its stored URL."""

    user_id: UUID
    kind: Literal["avatar", "banner"]
    url: str


def set_profile_image(cmd: SetProfileImage, store: Store) -> int:
    user = store.get(cmd.user_id, User, what="user")
    user.require_active()
    user.update_profile(**{cmd.kind: cmd.url})
    return store.save(user)
