"""Standard Webhooks signatures: `v1,` and the base64 HMAC-SHA256, keyed with the secret's
bytes, of `{webhook-id}.{webhook-timestamp}.{body}`."""

from __future__ import annotations

import base64
import hmac

PREFIX = "whsec_"


def secret_bytes(secret: str) -> bytes:
    """The key a `whsec_...` secret stands for (its base64 part decoded)."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    # hmac.digest is the one-shot form: computed in OpenSSL without an HMAC object.
    digest = hmac.digest(key, f"{msg_id}.{timestamp}.".encode() + body, "sha256")
    return "v1," + base64.b64encode(digest).decode()


def headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The request headers of one delivery."""
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key, msg_id, timestamp, body),
            "content-type": "application/json", "user-agent": "AeThex-Webhooks/1"}
