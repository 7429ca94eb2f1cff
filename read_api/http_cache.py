"""HTTP caching of GET answers, declared once per route (`opt=PUBLIC`, `LIVE`, `PRIVATE`):

- `live`: `Cache-Control: public, max-age=1`, an ETag, `If-None-Match` answered 304. What
  many viewers poll and changes by the second (the channel page, a stream, chat history):
  one second lets a CDN or the browser absorb a burst, then the refresh is a 304.
- `public`: `Cache-Control: no-cache`, an ETag, 304s. Public data a user reads right after
  changing it (profiles, followers, VODs): stored, but revalidated on every use, so never
  stale.
- `private`: `Cache-Control: no-store`, no ETag. Anything personal: answers that depend on
  who asks, keys, moderation, operators' views.

The default is the safe one, read off the handler's signature. A GET whose handler takes
the `principal` is private whatever it declares. One that can see who asks (it takes the
`request`, or a dependency that does, such as the `viewer` of a public read that a token
changes: chat history hides the users the viewer ignores) is private when the request
carries a token, and otherwise its declared policy with `Vary: Authorization`. Any other
GET cannot tell callers apart: its declared policy, `public` when it declares none. A
route that sets `Cache-Control` itself keeps its own.

Only 200 answers get an ETag (a strong one, of the body's bytes, so equal bytes are an
equal tag on every node); only GET and HEAD are looked at, so commands (the chat send
path) pass straight through.
"""

from __future__ import annotations

import hashlib
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

OPT_KEY = "http_cache"
LIVE = {OPT_KEY: "live"}
PUBLIC = {OPT_KEY: "public"}
PRIVATE = {OPT_KEY: "private"}
UNTOUCHED = {OPT_KEY: "none"}  # a route that answers with caching headers of its own

_CONTROL = {"live": b"public, max-age=1", "public": b"no-cache", "private": b"no-store"}
_RESOLVED = "_http_cache_resolved"


def _sees_caller(names: set[str], dependencies: dict[str, Any]) -> bool:
    """Whether a handler (or dependency) with these parameters can read the request, and
    so tell one caller from another."""
    if "request" in names:
        return True
    return any(_sees_caller(set(dependencies[n].parsed_fn_signature.parameters), dependencies)
               for n in names if n in dependencies)


def _route_policy(handler: Any) -> tuple[str | None, bool, bool]:
    """(declared policy, takes the principal, can see who asks), worked out on the first
    request and kept in the handler's own `opt` (each app has its own handlers)."""
    found = handler.opt.get(_RESOLVED)
    if found is None:
        declared = handler.opt.get(OPT_KEY)
        if declared is not None and declared not in (*_CONTROL, "none"):
            raise ValueError(f"unknown {OPT_KEY} policy {declared!r}")
        names = set(handler.parsed_fn_signature.parameters)
        found = (declared, "principal" in names,
                 _sees_caller(names, handler.resolve_dependencies()))
        handler.opt[_RESOLVED] = found
    return found


def policy_of(handler: Any, has_token: bool) -> str | None:
    """The policy a request to `handler` gets: `live`, `public`, `private`, or None (the
    route declared `UNTOUCHED`)."""
    declared, takes_principal, sees_caller = _route_policy(handler)
    if takes_principal or (has_token and sees_caller):
        return "private"
    if declared is None:
        return "public"
    return None if declared == "none" else declared


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'


def matches(if_none_match: bytes, etag: bytes) -> bool:
    """`If-None-Match` (weak comparison, as RFC 9110 asks for this header)."""
    if if_none_match.strip() == b"*":
        return True
    tags = (t.strip() for t in if_none_match.split(b","))
    return any((t[2:] if t.startswith(b"W/") else t) == etag for t in tags)


def http_cache_middleware(app: ASGIApp) -> ASGIApp:
    """Route middleware applying the route's policy (see the module's doc)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await app(scope, receive, send)
            return
        has_token = False
        if_none_match = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                has_token = True
            elif name == b"if-none-match":
                if_none_match = value
        policy = policy_of(scope["route_handler"], has_token)
        if policy is None:
            await app(scope, receive, send)
            return
        vary = _route_policy(scope["route_handler"])[2] and policy != "private"
        control = _CONTROL[policy]
        held: Message | None = None

        def with_headers(message: Message, extra: list[tuple[bytes, bytes]]) -> Message:
            headers = list(message.get("headers", []))
            if not any(n.lower() == b"cache-control" for n, _ in headers):
                headers.append((b"cache-control", control))
            if vary:
                headers.append((b"vary", b"Authorization"))
            message["headers"] = [*headers, *extra]  # type: ignore[typeddict-item]
            return message

        async def send_cached(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                if policy == "private" or message["status"] != 200:
                    # Errors say nothing to keep; a private route's never are kept at all.
                    await send(with_headers(message, []) if policy == "private" else message)
                    return
                held = message  # until the body says what its tag is
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            start, held = held, None
            if message.get("more_body", False):  # a streamed body: no tag for it
                await send(with_headers(start, []))
                await send(message)
                return
            body = message.get("body", b"")
            etag = etag_of(body)
            if if_none_match and matches(if_none_match, etag):
                headers = [(n, v) for n, v in start.get("headers", [])
                           if n.lower() not in (b"content-length", b"content-type")]
                await send(with_headers({"type": "http.response.start", "status": 304,
                                         "headers": headers}, [(b"etag", etag)]))
                await send({"type": "http.response.body", "body": b""})
                return
            await send(with_headers(start, [(b"etag", etag)]))
            await send(message)

        await app(scope, receive, send_cached)

    return middleware
