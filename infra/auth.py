"""Built-in identity for the embedded default: argon2id password hashes and HS256 bearer
tokens signed with a local key. `Authenticator` is the seam for external issuers (OIDC)."""

from __future__ import annotations

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
    # External sign-in (issue 5): who vouched for the person, and whether they have set up
    # their account yet (until then they may only onboard and read themselves).
    onboarded: bool = True
    issuer: str | None = None
    subject: str | None = None
    email: str | None = None


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
                 leeway_s: int = 30) -> None:
        self._key = key
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self.leeway_s = leeway_s

    def issue(self, user_id: UUID, username: str, display_name: str) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id), "username": username, "name": display_name,
            "iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + self.ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm=self.algorithm)

    def authenticate(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[self.algorithm], audience=self.audience,
                issuer=self.issuer, leeway=self.leeway_s,
                options={"require": ["sub", "exp", "iat", "iss", "aud"]},
            )
            return Principal(user_id=UUID(claims["sub"]), username=str(claims["username"]),
                             display_name=str(claims.get("name") or claims["username"]))
        except (jwt.PyJWTError, KeyError, ValueError) as e:
            raise Unauthenticated(f"invalid token: {e}") from None
