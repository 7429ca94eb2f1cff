"""Wiring for identity and uploads: the authenticator the settings ask for (local
tokens, plus an OIDC issuer when configured) and the upload storage (disk or S3)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from uuid import UUID

import msgspec

from domain.errors import Unauthenticated
from domain.user import User, external_user_id
from infra.eventstore.event_store import EventStore
from infra.identity.auth import Authenticator, LocalTokens, Principal
from infra.identity.bot_tokens import BotTokens, is_bot_token
from infra.identity.oidc import (
    ExternalUser,
    IssuerChain,
    JwksCache,
    OidcAuthenticator,
    OidcVerifier,
)
from infra.settings import Settings, SettingsError
from infra.storage.objects import DiskStorage, S3Storage, Storage


class Account(msgspec.Struct, frozen=True):
    """What a token's account is now: its current names, and whether it was deleted."""

    username: str
    display_name: str
    deleted: bool


class AccountGuard:
    """Wraps the authenticator: a valid signature is not enough, the account the token
    names must exist and not be deleted. Our own tokens carry the username in their claims
    and live for an hour; without this, a token of a deleted account (or one signed for an
    id that never registered) kept chatting under whatever name it claimed.

    Accounts are read from the event store (the truth, even before any projector ran) and
    remembered for `ttl_s`; `forget` drops one at once (the node that applied a deletion,
    and every node hearing the user's events). External principals are not rechecked here:
    their authenticator looks the account up on every token already."""

    def __init__(self, inner: Authenticator, lookup: Callable[[UUID], Account | None], *,
                 ttl_s: float, cache_size: int = 100_000, bots: BotTokens | None = None,
                 ) -> None:
        self.inner = inner
        self.bots = bots
        self.lookup = lookup
        self.ttl_s = ttl_s
        self.blocking: bool = getattr(inner, "blocking", True)
        self._identify = getattr(inner, "identify", inner.authenticate)
        self._accounts: dict[UUID, tuple[Account | None, float]] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def authenticate(self, token: str) -> Principal:
        """A principal that may act, its account checked (may read the event store)."""
        if self.bots is not None and is_bot_token(token):
            return self.bots.authenticate(token)
        return self.check(self.inner.authenticate(token))

    def identify(self, token: str) -> Principal:
        """Whoever a valid token names (onboarded or not), its account checked."""
        if self.bots is not None and is_bot_token(token):
            return self.bots.authenticate(token)
        return self.check(self._identify(token))

    def quick(self, token: str, *, identify: bool = False) -> Principal | None:
        """Without I/O: the checked principal when the token needs no lookup to verify and
        its account is remembered; None when the caller must use the blocking path."""
        if self.blocking or (self.bots is not None and is_bot_token(token)):
            return None  # a bot token is checked against the store every time
        principal = (self._identify if identify else self.inner.authenticate)(token)
        return self.remembered(principal)

    def remembered(self, principal: Principal) -> Principal | None:
        """The checked principal from what is remembered, or None if not remembered."""
        if principal.is_bot:
            return None  # never remembered: a revocation holds at once
        if principal.issuer is not None:
            return principal
        entry = self._accounts.get(principal.user_id)
        if entry is None or entry[1] < time.monotonic():
            return None
        return _checked(principal, entry[0])

    def check(self, principal: Principal) -> Principal:
        """The principal with its account's current names; Unauthenticated when the
        account does not exist or was deleted."""
        if principal.is_bot and self.bots is not None:
            return self.bots.still_valid(principal)
        found = self.remembered(principal)
        if found is not None:
            return found
        account = self.lookup(principal.user_id)
        with self._lock:
            self._accounts.pop(principal.user_id, None)  # re-inserted as the newest
            self._accounts[principal.user_id] = (account, time.monotonic() + self.ttl_s)
            while len(self._accounts) > self._cache_size:
                del self._accounts[next(iter(self._accounts))]
        return _checked(principal, account)

    def forget(self, user_id: UUID | str) -> None:
        """The account changed (deleted, renamed): read it again on its next use."""
        try:
            key = user_id if isinstance(user_id, UUID) else UUID(user_id)
        except ValueError:
            return
        with self._lock:
            self._accounts.pop(key, None)


def _checked(principal: Principal, account: Account | None) -> Principal:
    if account is None:
        raise Unauthenticated("this account does not exist")
    if account.deleted:
        raise Unauthenticated("this account has been deleted")
    if (account.username, account.display_name) != (principal.username,
                                                    principal.display_name):
        # The account's names, not the token's claims: they may have changed since.
        return msgspec.structs.replace(principal, username=account.username,
                                       display_name=account.display_name)
    return principal


def build_authenticator(settings: Settings, tokens: LocalTokens,
                        store: EventStore) -> AccountGuard:
    """Local tokens always; tokens from `oidc_issuer` too when it is set; either way
    behind the account check."""

    def account(user_id: UUID) -> Account | None:
        user = store.find(user_id, User)
        if user is None:
            return None
        return Account(user.username, user.display_name, user.deleted)

    return AccountGuard(_issuers(settings, tokens, store), account,
                        ttl_s=settings.account_check_ttl_s, bots=BotTokens(store))


def _issuers(settings: Settings, tokens: LocalTokens, store: EventStore) -> Authenticator:
    if not settings.oidc_issuer:
        return tokens
    if not settings.oidc_jwks_url:
        raise SettingsError("AETHEX_OIDC_ISSUER needs AETHEX_OIDC_JWKS_URL")
    if settings.oidc_issuer == tokens.issuer:
        raise SettingsError("AETHEX_OIDC_ISSUER must differ from AETHEX_JWT_ISSUER")

    def lookup(user_id: UUID) -> ExternalUser | None:
        user = store.find(user_id, User)
        if user is None:
            return None
        return ExternalUser(user.username, user.display_name, user.onboarded, user.deleted)

    try:
        jwks = JwksCache(settings.oidc_jwks_url, min_refresh_s=settings.oidc_jwks_refresh_s)
    except ValueError as e:  # not an http(s) URL, or a negative refresh interval
        raise SettingsError(f"AETHEX_OIDC_JWKS_URL / AETHEX_OIDC_JWKS_REFRESH_S: {e}") from None
    verifier = OidcVerifier(settings.oidc_issuer, settings.oidc_audience, jwks,
                            leeway_s=settings.oidc_leeway_s)
    oidc = OidcAuthenticator(verifier, external_user_id, lookup)
    return IssuerChain({tokens.issuer: tokens, settings.oidc_issuer: oidc})


def open_storage(settings: Settings) -> Storage:
    """S3-compatible storage when a bucket is set, else files under DATA_DIR/uploads."""
    if settings.s3_bucket:
        return S3Storage(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url,
                         region=settings.s3_region, access_key_id=settings.s3_access_key_id,
                         secret_access_key=settings.s3_secret_access_key,
                         public_url=settings.s3_public_url)
    return DiskStorage(settings.var / "uploads")
