"""The web client in the box: the plan's pages (home, stream page, dashboard, profile,
sign-up, sign-in, onboarding) served at their routes from `web/`, their assets at
`/assets/`, the pinned browser packages npm installed at `/vendor/`, and the API docs
(`/schema`) built from those same local packages, never a CDN.

Every HTML answer carries a Content-Security-Policy that lets scripts come from this origin
only (no inline script, no eval), media and playlists from the HLS origins the settings
name, and nothing be framed.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Router, get
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, YamlRenderPlugin
from litestar.params import FromPath
from litestar.response import Response
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import NotFound
from infra.settings import Settings
from infra.web.client_files import INSTALL_HINT, WebClientFiles, media_type
from read_api.http_cache import PUBLIC

HTML = "text/html; charset=utf-8"


def _origin(url: str | None) -> str | None:
    """The scheme://host[:port] of a URL or URL template, for a CSP source list; a host
    whose first label is a placeholder (`customer-{code}.example.com`) becomes `*.`."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc
    if "{" in host:
        first, _, rest = host.partition(".")
        if "{" in rest or not rest:
            return None
        host = f"*.{rest}" if "{" in first else host
    return f"{parts.scheme}://{host}"


# Where each provider's players fetch playlists and segments, from its documentation: Mux
# serves them from several CDNs under mux.com whose hosts change without notice (its CSP
# guide: media-src and connect-src https://*.mux.com); Cloudflare Stream from
# customer-<code>.cloudflarestream.com and videodelivery.net (its security considerations:
# every subdomain of both).
PROVIDER_MEDIA = {
    "mux": ("https://*.mux.com",),
    "cloudflare": ("https://*.cloudflarestream.com", "https://videodelivery.net",
                   "https://*.videodelivery.net"),
}


def providers_in_use(settings: Settings) -> list[str]:
    """The ingest providers whose streams this deployment can hold: the configured one, and
    Mux or Cloudflare when their webhooks are set up (a channel may bind their inputs)."""
    used = [settings.ingest_provider]
    if settings.mux_webhook_secret:
        used.append("mux")
    if settings.cloudflare_webhook_secret or settings.cloudflare_notification_secret:
        used.append("cloudflare")
    return list(dict.fromkeys(used))


def media_origins(settings: Settings) -> list[str]:
    """Origins the pages may load playlists, segments and recordings from: those of the
    providers in use (for nginx-rtmp, its HLS and recordings servers and the archive
    bucket, where whole-stream VODs go), and AETHEX_WEB_MEDIA_ORIGINS."""
    found: list[str | None] = []
    for provider in providers_in_use(settings):
        if provider == "mux":
            found += [_origin(settings.mux_playback_template), *PROVIDER_MEDIA["mux"]]
        elif provider == "cloudflare":
            found += [_origin(settings.cloudflare_playback_template),
                      *PROVIDER_MEDIA["cloudflare"]]
        else:
            found += [_origin(settings.ingest_playback_template),
                      _origin(settings.ingest_vod_template)]
            if settings.s3_archive_bucket or settings.s3_bucket:
                # Recordings and VODs kept in the bucket (infra/storage/recordings.py).
                found.append(_origin(settings.s3_archive_public_url or
                                     settings.s3_endpoint_url or "https://s3.amazonaws.com"))
    found += settings.extra_media_origins()
    return sorted({o for o in found if o})


def content_security_policy(settings: Settings) -> str:
    """Scripts, styles, fonts and workers from this origin only; playlists and segments
    (hls.js fetches them) and recordings from the origins `media_origins` names; images
    from here, the upload bucket, and any https host (a profile may name its avatar by
    URL, providers serve thumbnails from their own hosts)."""
    media = media_origins(settings)
    images = sorted({o for o in map(_origin, (settings.s3_public_url,
                                              settings.s3_endpoint_url)) if o})
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "font-src 'self'",
        " ".join(["img-src 'self' data: blob: https:", *images]),
        " ".join(["media-src 'self' blob:", *media]),
        " ".join(["connect-src 'self'", *media]),
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def security_headers_middleware(app: ASGIApp, policy: str) -> ASGIApp:
    """`app` with the page headers on every HTML answer (pages, the API docs, error pages):
    the CSP, no MIME sniffing, no framing, no referrer beyond the origin."""
    extra = [(b"content-security-policy", policy.encode()),
             (b"x-content-type-options", b"nosniff"),
             (b"referrer-policy", b"strict-origin-when-cross-origin")]

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if any(n.lower() == b"content-type" and v.startswith(b"text/html")
                       for n, v in headers):
                    message["headers"] = [*headers, *extra]  # type: ignore[typeddict-item]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


# What answers HEAD as it answers GET: the routes of `web_client_router` and the API docs
# page (the API's own routes declare their methods in the OpenAPI document).
HEAD_AS_GET = re.compile(r"(/|/streams/[^/]+|/dashboard(/profile)?|/auth/(register|login)"
                         r"|/onboarding|/assets/.+|/vendor/[^/]+|/schema(/swagger)?)/?")


def head_as_get_middleware(app: ASGIApp) -> ASGIApp:
    """`app` answering HEAD on the pages and their files as GET without the body, as any
    web server does (RFC 9110, 9.3.2): the same status and headers, Content-Length
    included, so a link checker or a cache can ask about a page without fetching it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "HEAD"
                or not HEAD_AS_GET.fullmatch(scope["path"])):
            await app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await app({**scope, "method": "GET"}, receive, send_without_body)  # type: ignore[arg-type]

    return middleware


def _not_installed_page(what: str) -> bytes:
    """What stands in for a page while its browser packages are not installed."""
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>AeThex "
            f"Live: {html.escape(what)} unavailable</title></head><body><main><h1>"
            f"{html.escape(what)} is not available yet</h1><p>{html.escape(INSTALL_HINT)}."
            "</p><p>The API works without it: <a href=\"/schema/openapi.json\">"
            "/schema/openapi.json</a>.</p></main></body></html>").encode()


def _not_installed(what: str) -> Response[bytes]:
    return Response(_not_installed_page(what), status_code=503, media_type=HTML)


def web_client_router(files: WebClientFiles) -> Router:
    """The pages at the plan's routes, `/assets/...` and `/vendor/...`."""

    def page(name: str) -> Response[bytes]:
        if files.missing():
            return _not_installed("The web client")
        return Response(files.render(name), media_type=HTML)

    options: dict[str, Any] = {"include_in_schema": False, "opt": PUBLIC, "sync_to_thread": False}

    @get("/", name="page-home", **options)
    def home() -> Response[bytes]:
        return page("home")

    @get("/streams/{channel_slug:str}", name="page-stream", **options)
    def stream(channel_slug: FromPath[str]) -> Response[bytes]:
        return page("stream")

    @get("/dashboard", name="page-dashboard", **options)
    def dashboard() -> Response[bytes]:
        return page("dashboard")

    @get("/dashboard/profile", name="page-profile", **options)
    def profile() -> Response[bytes]:
        return page("profile")

    @get("/auth/register", name="page-register", **options)
    def register() -> Response[bytes]:
        return page("register")

    @get("/auth/login", name="page-login", **options)
    def login() -> Response[bytes]:
        return page("login")

    @get("/onboarding", name="page-onboarding", **options)
    def onboarding() -> Response[bytes]:
        return page("onboarding")

    @get("/assets/{path:path}", name="web-asset", **options)
    def asset(path: FromPath[str]) -> Response[bytes]:
        found = files.asset(path.lstrip("/"))
        if found is None:
            raise NotFound(f"no asset {path!r}")
        return Response(files.read(found), media_type=media_type(found))

    @get("/vendor/{name:str}", name="web-vendor", **options)
    def vendor(name: FromPath[str]) -> Response[bytes]:
        found = files.vendor(name)
        if found is None:
            raise NotFound(f"no package file {name!r}" + (
                f" ({INSTALL_HINT})" if name in files.missing() else ""))
        return Response(files.read(found), media_type=media_type(found))

    return Router(path="/", route_handlers=[home, stream, dashboard, profile, register, login,
                                            onboarding, asset, vendor])


class LocalSwaggerUI(OpenAPIRenderPlugin):
    """Swagger UI at /schema (and /schema/swagger) from the npm package installed in
    web/, started by a script of ours: no CDN, no inline script or style."""

    def __init__(self, files: WebClientFiles, path: tuple[str, ...] = ("/", "/swagger")) -> None:
        self.files = files
        super().__init__(path=list(path), favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self.files.missing():
            return _not_installed_page("The API docs page")
        title = html.escape(str(openapi_schema["info"]["title"]))
        spec = html.escape(self.get_openapi_json_route(request))
        return (
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{title}: API</title>"
            "<link rel=\"stylesheet\" href=\"/vendor/swagger-ui.css\">"
            "<link rel=\"stylesheet\" href=\"/assets/docs.css\"></head><body>"
            f"<main id=\"swagger-ui\" data-spec=\"{spec}\"></main>"
            "<script src=\"/vendor/swagger-ui-bundle.js\"></script>"
            "<script src=\"/assets/js/docs.js\"></script></body></html>").encode()


def docs_plugins(files: WebClientFiles) -> list[OpenAPIRenderPlugin]:
    """What /schema serves: the docs page, and the document as JSON and YAML."""
    return [LocalSwaggerUI(files), JsonRenderPlugin(), YamlRenderPlugin()]
