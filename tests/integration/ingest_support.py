"""Shared by the ingest tests: the service with ingest settings, optionally with
a real nginx-rtmp in front of it, in each mode."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from infra.ingest.nginx_rtmp import NginxRtmp, available, publish_command
from tests.harness import (
    LiveServer,
    serving,
)

MUX_SECRET = "mux-test-signing-secret"
CLOUDFLARE_SECRET = "cloudflare-test-signing-secret"
CLOUDFLARE_NOTIFY_SECRET = "cloudflare-notifications-destination-secret"
GRACE_S = 1.0


@contextmanager
def ingest_server(mode: str, tmp_path: Path, **overrides: Any) -> Iterator[LiveServer]:
    settings_overrides = {"ingest_reconnect_grace_s": GRACE_S, "mux_webhook_secret": MUX_SECRET,
                          "cloudflare_webhook_secret": CLOUDFLARE_SECRET,
                          "cloudflare_notification_secret": CLOUDFLARE_NOTIFY_SECRET, **overrides}
    with serving(mode, tmp_path, **settings_overrides) as live:
        yield live


@contextmanager
def with_nginx(mode: str, tmp_path: Path, *, qualities: str = "source",
               update_interval: str = "5s", **extra: Any
               ) -> Iterator[tuple[LiveServer, NginxRtmp]]:
    """nginx-rtmp on loopback ports (transcoding into `qualities`), its hooks pointing at
    the service, and the service configured with nginx's URLs. nginx is always stopped
    afterwards."""
    missing = available()
    if missing:  # CI installs them (.ci/run); a missing one is a failure, not a skip
        pytest.fail(f"the real-video test needs {missing} (apt-get install -y nginx "
                    "libnginx-mod-rtmp ffmpeg)")
    nginx = NginxRtmp(tmp_path / "nginx", qualities=qualities,
                      update_interval=update_interval)
    overrides = {
        "ingest_qualities": qualities,
        "ingest_nginx_stat_url": nginx.stat_url,
        **extra,
        "ingest_rtmp_url": nginx.ingest_url,
        "ingest_nginx_push_url": nginx.push_url,
        "ingest_playback_template": f"{nginx.http_url}/hls/{{playback_id}}.m3u8",
        "ingest_vod_template": f"{nginx.http_url}/recordings/{{recording}}",
    }
    with ingest_server(mode, tmp_path, **overrides) as server:
        try:
            nginx.start(f"{server.url}/webhooks/nginx-rtmp")
            yield server, nginx
        finally:
            nginx.stop()


class Encoder:
    """ffmpeg publishing a test pattern (at `cbr_kbps` if given); always killed at the
    end."""

    def __init__(self, url: str, seconds: float, cbr_kbps: int | None = None) -> None:
        self.url = url
        self.seconds = seconds
        self.cbr_kbps = cbr_kbps
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Encoder:
        self.process = await asyncio.create_subprocess_exec(
            *publish_command(self.url, self.seconds, cbr_kbps=self.cbr_kbps),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        return self

    async def wait(self, timeout: float) -> tuple[int, str]:
        assert self.process is not None
        _, err = await asyncio.wait_for(self.process.communicate(), timeout)
        return self.process.returncode or 0, err.decode(errors="replace")

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def publish_once(url: str, seconds: float = 1.0, timeout: float = 15.0) -> tuple[int, str]:
    async with Encoder(url, seconds) as encoder:
        return await encoder.wait(timeout)
