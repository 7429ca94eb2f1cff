"""CORS for every HTTP route: a web app on another origin calls the API with a bearer token.

One setting, `AETHEX_CORS_ORIGINS` (`*` or a comma list of origins), serves this and the
Socket.IO transport. The middleware wraps the whole Litestar app (inside the request id),
so the router's own 404 and 405 answers carry the headers too and a frontend can read
their problem+json.

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an allowed
  origin is answered here, 204, whatever the path: the real request then gets the route's
  own answer (a 404 for a path that does not exist), readable by the page. From any other
  origin it goes on to the app as a plain `OPTIONS`, with no CORS headers.
- A request from an allowed origin gets `Access-Control-Allow-Origin` and the exposed
  headers; from another origin, nothing (the browser keeps the answer from the page).
- With `*`, the allowed origin is `*` and `Access-Control-Allow-Credentials` is never sent:
  a wildcard must not also admit cookies. With a list, the origin is echoed, credentials
  are allowed, and `Vary: Origin` is on every GET and HEAD answer, so a cache never hands
  one origin's answer to another.

Bearer tokens need no credentials mode: the `Authorization` header is simply allowed.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = b"Authorization, Content-Type, X-Request-ID"
EXPOSE_HEADERS = b"X-Request-ID, ETag, Retry-After, WWW-Authenticate"
MAX_AGE = b"600"


def parse_origins(value: str) -> list[str] | None:
    """The allowed origins of a setting: None for `*` (any), else the listed ones,
    normalised as browsers send them (lower case, no trailing slash)."""
    origins = [o.strip().rstrip("/").lower() for o in value.split(",") if o.strip()]
    if "*" in origins:
        return None
    return origins


def cors_middleware(app: ASGIApp, origins: str) -> ASGIApp:
    """`app` answering cross-origin requests from `origins` (see the module's doc)."""
    allowed = parse_origins(origins)
    any_origin = allowed is None
    allowed_set = frozenset(allowed or ())

    def allow_headers(origin: bytes) -> list[tuple[bytes, bytes]]:
        if any_origin:
            return [(b"access-control-allow-origin", b"*")]
        return [(b"access-control-allow-origin", origin),
                (b"access-control-allow-credentials", b"true")]

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        origin = b""
        preflight_method = False
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                preflight_method = True
        method = scope["method"]
        cacheable = method in ("GET", "HEAD")
        ok = bool(origin) and (any_origin or origin.decode("latin-1").lower() in allowed_set)
        if ok and preflight_method and method == "OPTIONS":
            headers = [*allow_headers(origin),
                       (b"access-control-allow-methods", ALLOW_METHODS),
                       (b"access-control-allow-headers", ALLOW_HEADERS),
                       (b"access-control-max-age", MAX_AGE),
                       (b"content-length", b"0")]
            if not any_origin:
                headers.append((b"vary", b"Origin"))
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if not ok and (any_origin or not cacheable):
            # Nothing to add: no CORS for this caller, and no cache to warn. The chat send
            # path from a non-browser client takes this branch and costs nothing more.
            await app(scope, receive, send)
            return
        extra: list[tuple[bytes, bytes]] = []
        if ok:
            extra += [*allow_headers(origin),
                      (b"access-control-expose-headers", EXPOSE_HEADERS)]
        if not any_origin:
            extra.append((b"vary", b"Origin"))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]  # type: ignore[typeddict-item]
            await send(message)

        await app(scope, receive, send_with_cors)

    return middleware
