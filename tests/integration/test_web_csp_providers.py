"""The pages' Content-Security-Policy as a real server sends it, for each ingest provider's
settings: media (playlists, segments, recordings) may come from the hosts that provider
serves them from, by its documentation, and from no other provider's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import serving

SELF = ["'self'", "blob:"]


def served_directives(url: str) -> dict[str, list[str]]:
    r = httpx.get(url + "/dashboard", timeout=10)
    assert r.headers["content-type"].startswith("text/html")
    policy = r.headers["content-security-policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


@pytest.mark.parametrize(("settings", "media"), [
    ({"ingest_provider": "nginx-rtmp",
      "ingest_playback_template": "http://127.0.0.1:8089/hls/{playback_id}.m3u8",
      "ingest_vod_template": "https://vod.example.com/recordings/{recording}",
      "s3_archive_bucket": "vods", "s3_archive_public_url": "https://archive.example.com/vods"},
     ["http://127.0.0.1:8089", "https://archive.example.com", "https://vod.example.com"]),
    ({"ingest_provider": "mux", "mux_webhook_secret": "mux-secret"},
     ["https://*.mux.com", "https://stream.mux.com"]),
    ({"ingest_provider": "cloudflare", "cloudflare_webhook_secret": "cf-secret",
      "cloudflare_playback_template":
          "https://customer-abc123.cloudflarestream.com/{playback_id}/manifest/video.m3u8",
      "web_media_origins": "https://cdn.example.org"},
     ["https://*.cloudflarestream.com", "https://*.videodelivery.net",
      "https://cdn.example.org", "https://customer-abc123.cloudflarestream.com",
      "https://videodelivery.net"]),
], ids=["nginx-rtmp", "mux", "cloudflare"])
def test_the_pages_allow_media_from_the_configured_providers_hosts(
        tmp_path: Path, settings: dict[str, Any], media: list[str]) -> None:
    with serving("embedded", tmp_path, **settings) as server:
        d = served_directives(server.url)
    assert d["media-src"] == SELF + media
    assert d["connect-src"] == ["'self'", *media]  # hls.js fetches playlists and segments
    assert d["script-src"] == ["'self'"]
