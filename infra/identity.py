"""Wiring for identity and uploads: the authenticator the settings ask for (local
tokens, plus an OIDC issuer when configured) and the upload storage (disk or S3)."""

from __future__ import annotations

from uuid import UUID

from commands.claims import external_user_id
from domain.user import User
from infra.auth import Authenticator, LocalTokens
from infra.event_store import EventStore
from infra.oidc import ExternalUser, IssuerChain, JwksCache, OidcAuthenticator, OidcVerifier
from infra.settings import Settings, SettingsError
from infra.storage import DiskStorage, S3Storage, Storage


def build_authenticator(settings: Settings, tokens: LocalTokens,
                        store: EventStore) -> Authenticator:
    """Local tokens always; tokens from `oidc_issuer` too when it is set."""
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

    verifier = OidcVerifier(
        settings.oidc_issuer, settings.oidc_audience,
        JwksCache(settings.oidc_jwks_url, min_refresh_s=settings.oidc_jwks_refresh_s),
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
