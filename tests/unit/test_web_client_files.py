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
from read_api.web_client import content_security_policy, security_headers_middleware


def directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";"))
    return {p[0]: p[1:] for p in parts if p}


def test_the_csp_allows_scripts_from_our_origin_only_and_media_from_the_providers() -> None:
    settings = load_settings({}, ingest_playback_template="http://10.0.0.5:8080/hls/{playback_id}.m3u8",
                             ingest_vod_template="https://vod.example.com/rec/{recording}",
                             cloudflare_playback_template="https://customer-{code}.cloudflarestream.com/{playback_id}/manifest/video.m3u8",
                             s3_public_url="https://cdn.example.net/images")
    d = directives(content_security_policy(settings))
    assert d["script-src"] == ["'self'"] and d["style-src"] == ["'self'"]
    assert d["worker-src"] == ["'self'"] and d["object-src"] == ["'none'"]
    assert d["frame-ancestors"] == ["'none'"] and d["base-uri"] == ["'none'"]
    for source in ("http://10.0.0.5:8080", "https://vod.example.com", "https://stream.mux.com",
                   "https://*.cloudflarestream.com"):
        assert source in d["media-src"] and source in d["connect-src"], source
    assert "https://cdn.example.net" in d["img-src"]
    assert all("unsafe" not in s for values in d.values() for s in values)


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
