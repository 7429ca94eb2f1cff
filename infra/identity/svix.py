"""Svix webhook signatures (what Clerk signs its webhooks with): HMAC-SHA256 over
`{svix-id}.{svix-timestamp}.{body}` with the base64 key after `whsec_`, in `svix-signature`
as space-separated `v1,<base64>` entries; timestamps more than 5 minutes off are refused."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

from domain.errors import Unauthenticated

TOLERANCE_S = 5 * 60


def secret_bytes(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise ValueError("the webhook secret is not whsec_<base64>") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<signature>` entry for a message (tests and tools sign with it)."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: Mapping[str, str], body: bytes, *,
           now: float | None = None, tolerance_s: int = TOLERANCE_S) -> str:
    """Returns the message id when the signature holds; raises Unauthenticated otherwise."""
    msg_id = headers.get("svix-id") or ""
    stamp = headers.get("svix-timestamp") or ""
    signatures = headers.get("svix-signature") or ""
    if not msg_id or not stamp or not signatures:
        raise Unauthenticated("missing svix-id, svix-timestamp or svix-signature header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise Unauthenticated("svix-timestamp is not a number") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_s:
        raise Unauthenticated("svix-timestamp is too old or too new")
    expected = sign(secret, msg_id, timestamp, body).encode()
    for entry in signatures.split():
        version, _, _ = entry.partition(",")
        if version == "v1" and hmac.compare_digest(entry.encode(), expected):
            return msg_id
    raise Unauthenticated("no valid webhook signature")
