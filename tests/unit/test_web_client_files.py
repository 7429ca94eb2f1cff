"""The web client's files and headers: only the named package files are served, nothing
outside assets/, and the CSP lets scripts come from our origin only while naming the
HLS and image origins the settings point at."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from infra.settings import SettingsError, load_settings
from infra.web.client_files import PAGES, VENDOR, WebClientFiles, default_web_dir
from read_api.web_client import (
    content_security_policy,
    head_as_get_middleware,
    security_headers_middleware,
)


def directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";"))
    return {p[0]: p[1:] for p in parts if p}


def media(settings: Any) -> list[str]:
    d = directives(content_security_policy(settings))
    assert d["connect-src"][1:] == d["media-src"][2:]  # hls.js fetches what the video plays
    return d["media-src"][2:]  # after 'self' blob:


def test_the_csp_allows_scripts_from_our_origin_only() -> None:
    settings = load_settings({}, s3_public_url="https://cdn.example.net/images")
    d = directives(content_security_policy(settings))
    assert d["script-src"] == ["'self'"] and d["style-src"] == ["'self'"]
    assert d["worker-src"] == ["'self'"] and d["object-src"] == ["'none'"]
    assert d["frame-ancestors"] == ["'none'"] and d["base-uri"] == ["'none'"]
    assert d["media-src"][:2] == ["'self'", "blob:"]
    assert "https://cdn.example.net" in d["img-src"]
    assert all("unsafe" not in s for values in d.values() for s in values)


def test_media_origins_follow_the_configured_provider() -> None:
    # nginx-rtmp: its HLS server and its recordings server, nothing of the others.
    assert media(load_settings(
        {}, ingest_playback_template="http://10.0.0.5:8080/hls/{playback_id}.m3u8",
        ingest_vod_template="https://vod.example.com/rec/{recording}")) == [
        "http://10.0.0.5:8080", "https://vod.example.com"]
    # Mux: every host under mux.com (its CSP guide: several CDNs, hosts change without
    # notice), and a custom playback domain when the template names one.
    assert media(load_settings({}, ingest_provider="mux")) == [
        "https://*.mux.com", "https://stream.mux.com"]
    assert "https://video.example.org" in media(load_settings(
        {}, ingest_provider="mux",
        mux_playback_template="https://video.example.org/{playback_id}.m3u8"))
    # Cloudflare Stream: customer-<code>.cloudflarestream.com and videodelivery.net.
    assert media(load_settings({}, ingest_provider="cloudflare")) == [
        "https://*.cloudflarestream.com", "https://*.videodelivery.net",
        "https://videodelivery.net"]
    assert "http://127.0.0.1:8080" not in media(load_settings({}, ingest_provider="cloudflare"))


def test_media_origins_add_providers_whose_webhooks_are_set_the_archive_and_extras() -> None:
    both = media(load_settings({}, mux_webhook_secret="m", cloudflare_notification_secret="c"))
    assert {"http://127.0.0.1:8080", "https://*.mux.com", "https://*.cloudflarestream.com"} \
        <= set(both)
    # Whole-stream VODs in the archive bucket: its public URL, else its endpoint.
    assert "https://vods.example.com" in media(load_settings(
        {}, s3_archive_bucket="vods", s3_archive_public_url="https://vods.example.com/v"))
    assert "http://127.0.0.1:9000" in media(load_settings(
        {}, s3_bucket="media", s3_endpoint_url="http://127.0.0.1:9000"))
    assert "https://s3.amazonaws.com" in media(load_settings({}, s3_bucket="media"))
    extra = load_settings({"AETHEX_WEB_MEDIA_ORIGINS": "https://cdn.example.com, "
                                                       "https://*.edge.example.net:8443"})
    assert {"https://cdn.example.com", "https://*.edge.example.net:8443"} <= set(media(extra))


@pytest.mark.parametrize("bad", ["cdn.example.com", "https://cdn.example.com/hls",
                                 "https://a.com; script-src *", "ftp://a.com", "https://"])
def test_a_media_origin_that_is_not_one_is_refused(bad: str) -> None:
    with pytest.raises(SettingsError, match="AETHEX_WEB_MEDIA_ORIGINS"):
        load_settings({"AETHEX_WEB_MEDIA_ORIGINS": bad})


def test_only_the_named_package_files_and_assets_are_served(tmp_path: Path) -> None:
    root = tmp_path / "web"
    (root / "pages").mkdir(parents=True)
    (root / "assets").mkdir()
    (root / "assets" / "app.css").write_text("body {}")
    (root / "secret.txt").write_text("no")
    files = WebClientFiles(root)
    assert files.missing() == list(VENDOR)  # nothing installed yet
    assert files.vendor("hls.mjs") is None
    installed = root / "node_modules" / VENDOR["hls.mjs"]
    installed.parent.mkdir(parents=True)
    installed.write_text("export default 1")
    (installed.parent / "hls.mjs.map").write_text("{}")
    assert files.vendor("hls.mjs") == installed
    assert files.read(installed) == b"export default 1"
    installed.write_text("export default 22")  # changed on disk: read anew
    assert files.read(installed) == b"export default 22"
    assert files.vendor("hls.mjs.map") is None and files.vendor("../package.json") is None
    assert "hls.mjs" not in files.missing()
    assert files.asset("app.css") == (root / "assets" / "app.css").resolve()
    for escape in ("../secret.txt", "../../etc/passwd", "/etc/passwd", ""):
        assert files.asset(escape) is None, escape
    with pytest.raises(KeyError):
        files.page("../secret")


def test_the_repository_holds_every_page() -> None:
    for name in PAGES:
        assert WebClientFiles().page(name).is_file(), name
    assert default_web_dir().name == "web"


def test_each_page_is_its_content_in_the_one_layout() -> None:
    """Every page is a whole document: its own title, script and main column around its
    content, and the head and site header written once, in the layout."""
    files = WebClientFiles()
    for name, page in PAGES.items():
        text = files.render(name).decode()
        content = files.page(name).read_text()
        assert text.startswith("<!doctype html>") and text.endswith("</html>\n"), name
        assert f"<title>{page.title} · AeThex Live</title>" in text, name
        assert f'<script type="module" src="/assets/js/pages/{name}.js"></script>' in text
        assert (files.assets / "js" / "pages" / f"{name}.js").is_file(), name
        main = '<main id="main" tabindex="-1"' + (' class="narrow"' if page.narrow else "") + ">"
        assert f"{main}\n{content}</main>" in text, name
        assert "{{" not in text.replace(content, ""), name  # no slot left unfilled
        assert text.count('<header class="site-header">') == 1, name
        assert "<head>" not in content and "<main" not in content, name


def test_a_page_edited_on_disk_is_served_anew(tmp_path: Path) -> None:
    root = tmp_path / "web"
    (root / "pages").mkdir(parents=True)
    (root / "pages" / "_layout.html").write_text(
        "<title>{{title}}</title><main{{main_class}}>{{main}}</main>\n")
    (root / "pages" / "login.html").write_text("<p>{{title}} is kept as written</p>\n")
    files = WebClientFiles(root)
    assert files.render("login") == (b'<title>Sign in</title><main class="narrow">'
                                     b"<p>{{title}} is kept as written</p>\n</main>\n")
    (root / "pages" / "login.html").write_text("<p>changed</p>\n")
    assert b"<p>changed</p>" in files.render("login")
    with pytest.raises(KeyError):
        files.render("_layout")


def test_a_web_dir_that_is_not_the_clients_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="AETHEX_WEB_DIR"):
        load_settings({"AETHEX_WEB_DIR": str(tmp_path)})
    (tmp_path / "pages").mkdir()
    assert load_settings({"AETHEX_WEB_DIR": str(tmp_path)}).web_dir == str(tmp_path)


def test_page_headers_go_on_html_answers_only() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        kind = b"text/html; charset=utf-8" if scope["path"] == "/" else b"application/json"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", kind)]})
        await send({"type": "http.response.body", "body": b""})

    wrapped = security_headers_middleware(app, "default-src 'self'")

    async def call(path: str) -> dict[bytes, bytes]:
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        await wrapped({"type": "http", "path": path}, None, send)
        return dict(sent[0]["headers"])

    page, api = asyncio.run(call("/")), asyncio.run(call("/api/x"))
    assert page[b"content-security-policy"] == b"default-src 'self'"
    assert page[b"x-content-type-options"] == b"nosniff"
    assert b"content-security-policy" not in api


async def _ask(app: Any, method: str, path: str) -> tuple[dict[str, Any], list[Any], str]:
    """What the wrapped app sent (its start, then its body messages) and the method the
    app itself was called with."""
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await head_as_get_middleware(app)({"type": "http", "method": method, "path": path,
                                       "headers": []}, receive, send)
    return sent[0], sent[1:], app.methods[-1]


def test_head_on_a_page_answers_as_get_without_the_body() -> None:
    class App:
        """Answers GET only, its body in two parts; 405 otherwise."""

        methods: list[str] = []

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            self.methods.append(scope["method"])
            if scope["method"] != "GET":
                await send({"type": "http.response.start", "status": 405, "headers": []})
                await send({"type": "http.response.body", "body": b"no"})
                return
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"10")]})
            await send({"type": "http.response.body", "body": b"01234", "more_body": True})
            await send({"type": "http.response.body", "body": b"56789"})

    app = App()
    for path in ("/", "/streams/ada", "/dashboard", "/dashboard/profile", "/auth/login",
                 "/onboarding", "/assets/js/pages/home.js", "/vendor/hls.mjs", "/schema"):
        start, body, method = asyncio.run(_ask(app, "HEAD", path))
        assert (start["status"], method) == (200, "GET"), path
        assert dict(start["headers"])[b"content-length"] == b"10"  # the GET's length
        assert body == [{"type": "http.response.body", "body": b"", "more_body": False}]
    # GET keeps its body; the API's routes keep their own answer to HEAD.
    start, body, _ = asyncio.run(_ask(app, "GET", "/"))
    assert b"".join(m["body"] for m in body) == b"0123456789"
    for path in ("/api/channels", "/streams/a/b", "/health/live"):
        start, body, method = asyncio.run(_ask(app, "HEAD", path))
        assert (start["status"], method) == (405, "HEAD"), path
