"""Provider webhook signatures: a timestamp and a hex HMAC-SHA256 over `{timestamp}.{body}`,
in a header of comma-separated `key=value` pairs. Mux sends `Mux-Signature: t=..,v1=..`;
Cloudflare Stream sends `Webhook-Signature: time=..,sig1=..`. Stale timestamps are refused."""

from __future__ import annotations

import hashlib
import hmac
import time

from domain.errors import Unauthenticated


class Scheme:
    """How one provider lays out its signature header."""

    def __init__(self, header: str, time_key: str, sig_key: str) -> None:
        self.header = header
        self.time_key = time_key
        self.sig_key = sig_key

    def sign(self, secret: str, timestamp: int, body: bytes) -> str:
        """The header value the provider would send (tests and tools sign with it)."""
        return f"{self.time_key}={timestamp},{self.sig_key}={digest(secret, timestamp, body)}"

    def verify(self, secret: str, header: str | None, body: bytes, *, tolerance_s: int,
               now: float | None = None) -> int:
        """Returns the signed timestamp; Unauthenticated when anything is off."""
        if not header:
            raise Unauthenticated(f"missing {self.header} header")
        stamps: list[str] = []
        signatures: list[str] = []
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            if key == self.time_key:
                stamps.append(value)
            elif key == self.sig_key:
                signatures.append(value)
        if len(stamps) != 1 or not signatures:
            raise Unauthenticated(f"{self.header} needs {self.time_key}= and {self.sig_key}=")
        try:
            timestamp = int(stamps[0])
        except ValueError:
            raise Unauthenticated(f"{self.header} timestamp is not a number") from None
        now = time.time() if now is None else now
        if abs(now - timestamp) > tolerance_s:
            raise Unauthenticated(f"{self.header} timestamp is outside the tolerance")
        expected = digest(secret, timestamp, body).encode()
        if not any(hmac.compare_digest(s.strip().lower().encode(), expected)
                   for s in signatures):
            raise Unauthenticated(f"{self.header} does not match the body")
        return timestamp


def digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


MUX = Scheme("Mux-Signature", "t", "v1")
CLOUDFLARE = Scheme("Webhook-Signature", "time", "sig1")
