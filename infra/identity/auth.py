"""Built-in identity for the embedded default: argon2id password hashes and HS256 bearer
tokens signed with a local key. `Authenticator` is the seam for external issuers (OIDC)."""

from __future__ import annotations

import threading
import time
from typing import Protocol
from uuid import UUID

import argon2
import jwt
import msgspec

from domain.errors import Unauthenticated


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who a request acts for."""

    user_id: UUID
    username: str
    display_name: str
    # External sign-in: who vouched for the person, and whether they have set up
    # their account yet (until then they may only onboard and read themselves).
    onboarded: bool = True
    issuer: str | None = None
    subject: str | None = None
    email: str | None = None
    # A channel's bot token: `user_id` is the token's id, and it acts in that channel
    # only, within its scopes (infra/identity/bot_tokens.py).
    bot_channel: UUID | None = None
    scopes: tuple[str, ...] = ()

    @property
    def is_bot(self) -> bool:
        return self.bot_channel is not None


class Authenticator(Protocol):
    def authenticate(self, token: str) -> Principal: ...


class Argon2Hasher:
    """argon2id with the library's RFC 9106 low-memory profile."""

    def __init__(self) -> None:
        self._hasher = argon2.PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


class LocalTokens:
    """Issues and checks our own access tokens (HS256, issuer, audience, expiry)."""

    algorithm = "HS256"
    blocking = False  # pure CPU: cheaper on the event loop than a hop to a thread

    def __init__(self, key: str, *, issuer: str, audience: str, ttl_s: int,
                 leeway_s: int = 30, cache_size: int = 10_000) -> None:
        self._key = key
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self.leeway_s = leeway_s
        # Tokens already verified (the exact string) -> (principal, its `exp`). Checking
        # the signature costs ~100 us and every request and socket connect presents one,
        # mostly the same few over and over. A dict keeps insertion order: the oldest entry
        # is evicted first. Reads take no lock; changes do, so eviction never races.
        self._verified: dict[str, tuple[Principal, int]] = {}
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def issue(self, user_id: UUID, username: str, display_name: str) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id), "username": username, "name": display_name,
            "iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + self.ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm=self.algorithm)

    def authenticate(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, exp = cached
            if time.time() < exp + self.leeway_s:  # what PyJWT accepts: exp > now - leeway
                return principal
            with self._cache_lock:
                self._verified.pop(token, None)  # expired: verify again, which refuses it
        principal, exp = self._verify(token)
        if self._cache_size > 0:
            with self._cache_lock:
                self._verified[token] = (principal, exp)
                while len(self._verified) > self._cache_size:
                    del self._verified[next(iter(self._verified))]
        return principal

    def _verify(self, token: str) -> tuple[Principal, int]:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[self.algorithm], audience=self.audience,
                issuer=self.issuer, leeway=self.leeway_s,
                options={"require": ["sub", "exp", "iat", "iss", "aud"]},
            )
            principal = Principal(user_id=UUID(claims["sub"]),
                                  username=str(claims["username"]),
                                  display_name=str(claims.get("name") or claims["username"]))
            return principal, int(claims["exp"])  # PyJWT checked it is an integer
        except (jwt.PyJWTError, KeyError, ValueError) as e:
            raise Unauthenticated(f"invalid token: {e}") from None
