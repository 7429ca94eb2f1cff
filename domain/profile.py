"""Profile rules: what a bio, a social link, a theme or a language may be."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from domain.errors import Invalid, TooLong
from domain.user import normalise_email

THEMES = frozenset({"dark", "light", "system"})
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Z]{2}|-[A-Z][a-z]{3})?$")
MAX_BIO = 500
MAX_URL = 500

# Known networks and the hosts their profile links live on; "website" takes any https host.
SOCIAL_NETWORKS: dict[str, tuple[str, ...]] = {
    "twitch": ("twitch.tv",),
    "youtube": ("youtube.com", "youtu.be"),
    "twitter": ("twitter.com", "x.com"),
    "x": ("x.com", "twitter.com"),
    "instagram": ("instagram.com",),
    "tiktok": ("tiktok.com",),
    "discord": ("discord.gg", "discord.com"),
    "github": ("github.com",),
    "kick": ("kick.com",),
    "facebook": ("facebook.com", "fb.com"),
    "website": (),
}


def clean_bio(bio: str, field: str = "bio") -> str:
    value = bio.strip()
    if len(value) > MAX_BIO:
        raise TooLong(f"bio must be at most {MAX_BIO} characters", field=field)
    return value


def _host_matches(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == a or host.endswith("." + a) for a in allowed)


def clean_social_links(links: dict[str, str]) -> dict[str, str]:
    """Known networks only; each an https URL on that network's hosts ("" drops a link)."""
    cleaned: dict[str, str] = {}
    for network, url in links.items():
        key = network.strip().lower()
        field = f"socialLinks.{network}"
        if key not in SOCIAL_NETWORKS:
            raise Invalid(f"unknown network {network!r}; known: "
                          f"{', '.join(sorted(SOCIAL_NETWORKS))}", field=field)
        value = url.strip()
        if not value:
            continue
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        if len(value) > MAX_URL or parts.scheme != "https" or not host or parts.username:
            raise Invalid("a social link must be an https URL", field=field)
        allowed = SOCIAL_NETWORKS[key]
        if allowed and not _host_matches(host, allowed):
            raise Invalid(f"a {key} link must be on {' or '.join(allowed)}", field=field)
        cleaned[key] = value
    return cleaned


def clean_theme(theme: str) -> str:
    value = theme.strip().lower()
    if value not in THEMES:
        raise Invalid(f"theme must be one of {', '.join(sorted(THEMES))}", field="theme")
    return value


def clean_language(language: str) -> str:
    value = language.strip()
    if not LANGUAGE_RE.fullmatch(value):
        raise Invalid("language must be a language tag such as 'en' or 'pt-BR'",
                      field="language")
    return value


def clean_notification_email(email: str) -> str:
    if not email.strip():
        return ""
    try:
        return normalise_email(email)
    except Invalid as e:
        raise Invalid(e.message, field="notificationEmail", code=e.code) from None


def clean_image_url(url: str, field: str) -> str:
    """An image the client names directly: our own upload path or an https URL."""
    value = url.strip()
    if not value:
        return ""
    if len(value) > MAX_URL:
        raise TooLong(f"{field} must be at most {MAX_URL} characters", field=field)
    if value.startswith("/uploads/") and ".." not in value:
        return value
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.username:
        raise Invalid(f"{field} must be an https URL or an uploaded image", field=field)
    return value
