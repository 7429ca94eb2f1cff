"""What routes use besides commands and reads, as async faces of what they wrap: the
password check of a sign-in, the upload storage, and live updates to every node. Concrete
classes, not the ports they wrap: Litestar checks each injected value with isinstance,
which a plain Protocol refuses. Everything blocking (the store, argon2, disk or bucket)
runs off the event loop. The composition root builds one of each."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from commands.bus import retrying
from commands.ports import PasswordHasher, Store
from domain.errors import Unauthenticated
from domain.unique_name import UniqueName
from domain.user import User, normalise_email
from infra.identity.auth import Authenticator, Principal
from infra.messaging.bus import EventBus, LiveUpdate
from infra.storage.objects import DiskStorage, Storage

# A real argon2id hash of a random string: verifying against it costs what a real check does.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$n8bcZsT3Z8mcIVkf33PlgQ$"
    "RjZWsDotWjsPkVRylphkOfoVS/z2bSGJ5gtPNUpAG98"
)


class Credentials:
    """Email and password, checked against the accounts in the event store."""

    def __init__(self, store: Store, hasher: PasswordHasher) -> None:
        self._store = store
        self._hasher = hasher

    async def check(self, email: str, password: str) -> User:
        """The account, or Unauthenticated with the same message (and about the same cost)
        whether the email is unknown or the password wrong."""
        return await asyncio.to_thread(self._check, email, password)

    def _check(self, email: str, password: str) -> User:
        refused = Unauthenticated("wrong email or password")
        try:
            email = normalise_email(email)
        except Exception:
            raise refused from None
        claim = self._store.find(UniqueName.create_id("email", email), UniqueName)
        user = self._store.find(claim.owner_id, User) if claim else None
        if user is None or not user.password_hash:
            self._hasher.verify(_DUMMY_HASH, password)  # same cost whether or not it exists
            raise refused
        if not self._hasher.verify(user.password_hash, password):
            raise refused
        return user


class UploadStorage:
    """Where uploaded images go: the embedded disk store or a bucket."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """The object's public URL."""
        return await asyncio.to_thread(self._storage.put, key, data, content_type)

    async def presign_post(self, key: str, max_bytes: int, expires_s: int) -> dict[str, Any]:
        return await asyncio.to_thread(self._storage.presign_post, key, max_bytes, expires_s)

    async def read(self, key: str, max_bytes: int) -> bytes | None:
        return await asyncio.to_thread(self._storage.read, key, max_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._storage.delete, key)

    def local_path(self, key: str) -> Path | None:
        """Where the disk store keeps `key` (a valid key); None for a bucket, which serves
        its objects itself."""
        if not isinstance(self._storage, DiskStorage):
            return None
        return self._storage.path(key)


class LiveUpdates:
    """Pushes updates to rooms on every API node (the event bus's live fan-out)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def publish(self, updates: Sequence[LiveUpdate]) -> None:
        await self._bus.publish_live(updates)


class SignedInAccounts:
    """What this node remembers of signed-in accounts (the authenticator's cache): told of
    an account a webhook just changed, so it is checked again at once, not after the relay."""

    def __init__(self, authenticator: object) -> None:
        self._forget = getattr(authenticator, "forget", None)

    def forget(self, user_id: str) -> None:
        if self._forget is not None:
            self._forget(user_id)


class Identities:
    """Who a bearer token names, and whether their account still stands: the
    authenticator's answer from memory when it has one (local tokens checked a moment
    ago), else off the event loop (an issuer's keys, the event store)."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator
        self._quick = getattr(authenticator, "quick", None)
        self._blocking = getattr(authenticator, "blocking", True)

    async def identify(self, token: str) -> Principal:
        """Whoever the token names, set up or not (onboarding, who-am-I)."""
        if self._quick is not None and (found := self._quick(token, identify=True)) is not None:
            return found
        # `identify` (the issuer chain's) also names people who have not onboarded yet.
        identify = getattr(self._authenticator, "identify", self._authenticator.authenticate)
        if self._quick is None and not self._blocking:
            return identify(token)
        return await retrying(identify, token)

    async def authenticate(self, token: str) -> Principal:
        """Whoever the token names, as a set-up account (a socket's connection)."""
        if self._quick is not None and (found := self._quick(token)) is not None:
            return found
        if self._quick is None and not self._blocking:
            return self._authenticator.authenticate(token)
        return await retrying(self._authenticator.authenticate, token)

    async def still_active(self, principal: Principal) -> Principal:
        """The principal of an open connection, its account checked again (remembered for
        a few seconds): a connection signed in before its account was deleted may not act."""
        remembered = getattr(self._authenticator, "remembered", None)
        if remembered is None:
            return principal
        found = remembered(principal)
        if found is not None:
            return found
        return await retrying(self._authenticator.check, principal)  # type: ignore[attr-defined]
