"""Posts a signed delivery to a receiver: a 5 s timeout, no redirects followed, the
answer kept only as a short excerpt, and no private, loopback or link-local address
reached unless allowed. The address is checked after DNS resolution, by the resolver the
connection itself uses, so a name that resolves to an inner address (or changes between
a check and the connect) is refused."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

EXCERPT = 256


class Refused(OSError):
    """The receiver's address is not one we deliver to (an OSError, as a failed lookup
    is, so the client reports it the same way)."""


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class GuardedResolver(AbstractResolver):
    """Resolves as usual, then refuses any answer holding a non-public address."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            for entry in found:
                if not public_address(entry["host"]):
                    raise Refused(f"{host} resolves to {entry['host']}, a private, loopback "
                                  "or link-local address")
        return found

    async def close(self) -> None:
        await self._inner.close()


class Outcome:
    """What one attempt gave: an HTTP status (None when none came), how long it took, and
    a short note (the start of the answer, or the error)."""

    __slots__ = ("latency_ms", "note", "status")

    def __init__(self, status: int | None, latency_ms: int, note: str) -> None:
        self.status = status
        self.latency_ms = latency_ms
        self.note = note

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Poster:
    """One HTTP client for every receiver (connections kept alive per host)."""

    def __init__(self, *, timeout_s: float, allow_private: bool) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.allow_private),
                                             limit=0, limit_per_host=0, ttl_dns_cache=None,
                                             use_dns_cache=False)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout,
                                                  auto_decompress=False)
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        started = time.perf_counter()
        status: int | None = None
        try:
            host = aiohttp.client.URL(url).host or ""
            if not self.allow_private and _literal_private(host):
                raise Refused(f"{host} is a private, loopback or link-local address")
            async with self._client().post(url, data=body, headers=headers,
                                           allow_redirects=False) as answer:
                status = answer.status
                raw = await answer.content.read(EXCERPT)
                note = raw.decode("utf-8", "replace")
        except Refused as e:
            note = f"refused: {e}"
        except aiohttp.ClientConnectorError as e:
            refused = e.os_error if isinstance(e.os_error, Refused) else None
            note = f"refused: {refused}" if refused else f"connection failed: {e.os_error}"
        except TimeoutError:
            note = "timed out"
        except (aiohttp.ClientError, OSError, ValueError) as e:
            note = f"{type(e).__name__}: {e}"[:EXCERPT]
        return Outcome(status, int((time.perf_counter() - started) * 1000), note[:EXCERPT])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)


def _literal_private(host: str) -> bool:
    """An address written in the URL (no resolution happens for it)."""
    try:
        return not public_address(host.strip("[]"))
    except ValueError:
        return False

