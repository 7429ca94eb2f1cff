"""Seals webhook signing secrets with AES-256-GCM under a key from settings, so a copy of
the database (or the event log) alone cannot sign a delivery."""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1:"
_CONTEXT = b"aethex webhook secret"


class SecretBox:
    """`seal` and `open` for short secrets. The key is any string (a setting): it is
    stretched to 256 bits with SHA-256, as it is high-entropy already."""

    def __init__(self, key: str) -> None:
        if len(key) < 16:
            raise ValueError("the webhook secret key must be at least 16 characters")
        self._aead = AESGCM(hashlib.sha256(key.encode()).digest())

    def seal(self, plain: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plain.encode(), _CONTEXT)
        return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(_VERSION):
            raise ValueError("not a sealed secret")
        raw = base64.urlsafe_b64decode(sealed[len(_VERSION):])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], _CONTEXT).decode()
        except InvalidTag:
            raise ValueError("the secret was sealed with another key "
                             "(AETHEX_WEBHOOK_SECRET_KEY changed?)") from None
