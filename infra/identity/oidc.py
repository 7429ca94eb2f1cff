"""External sign-in: RS256/ES256 JWTs from an OIDC issuer (Clerk) checked against its JWKS,
and the authenticator chain that picks the local issuer or the external one by `iss`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import jwt

from domain.errors import Unauthenticated
from infra.identity.auth import Authenticator, Principal

# Asymmetric algorithms only: an HS* token "signed" with a public key, or alg none, is refused.
ALLOWED_ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}


class JwksCache(jwt.PyJWKClient):
    """The issuer's signing keys by `kid`, cached by PyJWT's client: the whole set for
    `max_age_s`, refetched sooner when a token names an unknown `kid` (keys rotate), but at
    most once per `min_refresh_s` so a burst of made-up kids cannot hammer the issuer."""

    def __init__(self, url: str, *, min_refresh_s: float = 30.0, max_age_s: float = 3600.0,
                 timeout_s: float = 5.0) -> None:
        try:
            super().__init__(
                url, lifespan=max_age_s, cooldown_duration=min_refresh_s, timeout=timeout_s,
                # urllib's default User-Agent is refused by some CDNs and WAFs in front of
                # issuers (Cloudflare answers 403), so name ourselves.
                headers={"User-Agent": "aethex-live", "Accept": "application/json"})
        except jwt.PyJWKClientError as e:  # not an http(s) URL, or a bad interval
            raise ValueError(str(e)) from None
        self._failed_at: float | None = None
        self._last_good: jwt.PyJWKSet | None = None

    def fetch_data(self) -> Any:
        # PyJWT only rate-limits refetches after a success; an issuer that is down would
        # otherwise be asked again for every token, each waiting out the timeout under the
        # client's lock. So failures wait out the same interval.
        if (self._failed_at is not None
                and time.monotonic() - self._failed_at < self.cooldown_duration):
            raise jwt.PyJWKClientConnectionError("the last fetch failed, retrying later")
        try:
            data = super().fetch_data()
        except (jwt.PyJWTError, OSError, ValueError) as e:  # incl. a body that is not JSON
            self._failed_at = time.monotonic()
            raise jwt.PyJWKClientConnectionError(str(e)) from None
        self._failed_at = None
        return data

    def get_jwk_set(self, refresh: bool = False) -> jwt.PyJWKSet:
        # While the issuer cannot be reached, the keys it last published stay in use, so an
        # outage past `max_age_s` does not sign everyone out.
        try:
            self._last_good = super().get_jwk_set(refresh)
        except jwt.PyJWKClientConnectionError:
            if self._last_good is None:
                raise
        return self._last_good

    def key(self, kid: str) -> jwt.PyJWK:
        try:
            return self.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as e:
            raise Unauthenticated(f"the issuer's keys could not be fetched: {e}") from None
        except jwt.PyJWKClientError:
            raise Unauthenticated("invalid token: unknown signing key") from None


class OidcVerifier:
    """Checks a token's signature (against the JWKS), issuer, audience and times."""

    def __init__(self, issuer: str, audience: str | None, jwks: JwksCache, *,
                 leeway_s: int = 30) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks
        self.leeway_s = leeway_s

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if alg not in ALLOWED_ALGORITHMS:
                raise Unauthenticated(f"invalid token: algorithm {alg!r} is not accepted")
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise Unauthenticated("invalid token: no key id")
            jwk = self.jwks.key(kid)
            # The key decides the algorithm family: an RSA key never checks an EC token.
            if jwk.key_type != ALLOWED_ALGORITHMS[alg] or (
                    jwk.algorithm_name and jwk.algorithm_name != alg):
                raise Unauthenticated("invalid token: algorithm does not match the key")
            return jwt.decode(
                token, jwk.key, algorithms=[alg], issuer=self.issuer,
                audience=self.audience, leeway=self.leeway_s,
                options={"require": ["sub", "exp", "iat", "iss"],
                         "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError as e:
            raise Unauthenticated(f"invalid token: {e}") from None


class ExternalUser:
    """What the chain needs to know of our account for an external identity."""

    def __init__(self, username: str, display_name: str, onboarded: bool,
                 deleted: bool) -> None:
        self.username = username
        self.display_name = display_name
        self.onboarded = onboarded
        self.deleted = deleted


class OidcAuthenticator:
    """Verified external tokens become principals for our user mapped from (iss, sub)."""

    def __init__(self, verifier: OidcVerifier, user_id_of: Callable[[str, str], UUID],
                 lookup: Callable[[UUID], ExternalUser | None]) -> None:
        self.verifier = verifier
        self.user_id_of = user_id_of
        self.lookup = lookup

    def authenticate(self, token: str) -> Principal:
        claims = self.verifier.verify(token)
        issuer, subject = str(claims["iss"]), str(claims["sub"])
        user_id = self.user_id_of(issuer, subject)
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        user = self.lookup(user_id)
        if user is not None and user.deleted:
            raise Unauthenticated("this account has been deleted")
        if user is None:
            return Principal(user_id=user_id, username="", display_name="", onboarded=False,
                             issuer=issuer, subject=subject, email=email)
        return Principal(user_id=user_id, username=user.username,
                         display_name=user.display_name, onboarded=user.onboarded,
                         issuer=issuer, subject=subject, email=email)


class IssuerChain:
    """Sends each token to the authenticator of its (unverified) `iss`; the chosen one
    verifies everything, so a forged `iss` only picks which check fails."""

    def __init__(self, by_issuer: dict[str, Authenticator]) -> None:
        self.by_issuer = by_issuer

    def authenticate(self, token: str) -> Principal:
        """A principal that may act: someone not yet onboarded is refused here, so callers
        that know nothing of onboarding (the chat sockets) are safe by default."""
        principal = self.identify(token)
        if not principal.onboarded:
            raise Unauthenticated("finish setting up your account first: POST /api/auth/onboard")
        return principal

    def identify(self, token: str) -> Principal:
        """Whoever a valid token names, onboarded or not (for onboarding and who-am-I)."""
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as e:
            raise Unauthenticated(f"invalid token: {e}") from None
        chosen = self.by_issuer.get(issuer) if isinstance(issuer, str) else None
        if chosen is None:
            raise Unauthenticated("invalid token: unknown issuer")
        return chosen.authenticate(token)
