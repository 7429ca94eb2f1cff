"""Going live for real: nginx with the RTMP module, its hooks pointed at the API,
and ffmpeg publishing a generated test pattern with the owner's stream key. Asserts LIVE,
a playable HLS URL from the API, a refused wrong (and rotated) key, and ENDING then
ARCHIVED with the recording after the encoder stops and the reconnect grace passes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.ingest.nginx_rtmp import NginxRtmp
from tests.harness import LiveServer
from tests.integration.client import Api, assert_problem, next_event
from tests.integration.ingest_support import Encoder, publish_once, with_nginx


@pytest.fixture(params=["embedded", "production"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LiveServer, NginxRtmp]]:
    with with_nginx(request.param, tmp_path) as pair:
        yield pair


async def poll(fn: Any, what: str, timeout: float = 15.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


def events_of(server: LiveServer, prefix: str) -> list[Any]:
    events, _ = server.services.store.read(0, 100_000)
    return [e for e in events if e.type.startswith(prefix)]


async def test_publish_with_the_key_goes_live_plays_hls_and_archives(
    env: tuple[LiveServer, NginxRtmp], capfd: pytest.CaptureFixture[str]
) -> None:
    server, nginx = env
    api = Api(server.url, server.ws_url)
    try:
        owner = await api.register()
        other = await api.register()
        channel = await api.channel(owner)
        cid, slug = channel["id"], channel["slug"]

        r = await api.http.get(f"/api/channels/{cid}/stream-key", headers=owner["headers"])
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        key = r.json()["streamKey"]
        assert r.json()["ingestUrl"] == nginx.ingest_url and len(key) >= 40
        assert_problem(await api.http.get(f"/api/channels/{cid}/stream-key",
                                          headers=other["headers"]), 403)
        assert_problem(await api.http.get(f"/api/channels/{cid}/stream-key"), 401)

        # A wrong key: nginx is told 403, ffmpeg fails, nothing is recorded.
        code, _ = await publish_once(f"{nginx.ingest_url}/live_not-the-key")
        assert code != 0
        assert events_of(server, "WebhookReceipt.") == [] and events_of(server, "Stream.") == []

        async def live_page(besides: str | None = None) -> dict[str, Any] | None:
            """The channel page once it shows a LIVE stream (other than `besides`) with
            an HLS URL."""
            page = (await api.http.get(f"/api/channels/{slug}")).json()
            current = page.get("currentStream") or {}
            live = page["isLive"] and current.get("hlsUrl") and current["id"] != besides
            return page if live else None

        async with Encoder(f"{nginx.ingest_url}/{key}", seconds=4) as encoder:
            page = await poll(live_page, "the channel page to show LIVE with an HLS URL")
            stream = page["currentStream"]
            sid, hls_url = stream["id"], stream["hlsUrl"]
            assert stream["status"] == "LIVE" and stream["startTime"]
            assert hls_url == f"{nginx.http_url}/hls/{sid}.m3u8" and key not in hls_url
            assert stream["ingest"]["provider"] == "nginx-rtmp"
            assert stream["ingest"]["state"] == "connected"
            assert page["followerCount"] == 0 and "viewCount" in page
            ws = await api.subscribe(sid)

            async with httpx.AsyncClient(timeout=5) as plain:
                async def playlist() -> list[str] | None:
                    r = await plain.get(hls_url)
                    if r.status_code != 200:
                        return None
                    segments = [line for line in r.text.splitlines()
                                if line and not line.startswith("#")]
                    return segments or None

                segments = await poll(playlist, "an HLS playlist with a segment", timeout=10)
                segment = await plain.get(httpx.URL(hls_url).join(segments[0]))
                assert segment.status_code == 200 and len(segment.content) > 1000
                assert segment.content[0] == 0x47  # MPEG-TS sync byte

            code, err = await encoder.wait(timeout=20)
            assert code == 0, err

        # The encoder is gone: LIVE until the grace passes, then ENDING, then ARCHIVED.
        statuses: list[str] = []
        while "ARCHIVED" not in statuses:
            statuses.append((await next_event(ws, "stream:status", timeout=10))["status"])
        assert statuses.index("ENDING") < statuses.index("ARCHIVED")
        await ws.close()
        view = (await api.http.get(f"/api/streams/{sid}")).json()
        assert view["status"] == "ARCHIVED" and view["endTime"] and view["duration"] >= 1
        assert view["hlsUrl"] is None
        recording = Path(view["recordingPath"])
        assert recording.parent == nginx.record_dir and recording.stat().st_size > 1000
        assert sid in recording.name and key not in recording.name
        vod = await api.http.get(f"/api/channels/{cid}/vod")
        assert vod.status_code == 200
        [item] = vod.json()["items"]
        assert item["id"] == sid and item["vodUrl"].endswith(recording.name)
        async with httpx.AsyncClient(timeout=5) as plain:
            assert (await plain.get(item["vodUrl"])).status_code == 200
        page = (await api.http.get(f"/api/channels/{slug}")).json()
        assert page["isLive"] is False and page["currentStream"] is None
        disconnects = events_of(server, "Stream.IngestDisconnected")
        assert len(disconnects) == 1
        receipts = [e.data for e in events_of(server, "WebhookReceipt.")]
        # nginx sends publish_done and record_done in either order; both lead here.
        assert sorted(r["event_type"] for r in receipts) == [
            "publish", "publish_done", "record_done"]

        # Rotation: the old key is refused at once, the new one works.
        r = await api.http.post(f"/api/channels/{cid}/stream-key/rotate",
                                headers=owner["headers"])
        assert r.status_code == 200 and r.json()["streamKey"] != key
        new_key = r.json()["streamKey"]
        assert_problem(await api.http.post(f"/api/channels/{cid}/stream-key/rotate",
                                           headers=other["headers"]), 403)
        code, _ = await publish_once(f"{nginx.ingest_url}/{key}")
        assert code != 0
        assert len(events_of(server, "WebhookReceipt.")) == 3
        async with Encoder(f"{nginx.ingest_url}/{new_key}", seconds=2) as encoder:
            page = await poll(lambda: live_page(besides=sid),
                              "a new stream LIVE with the rotated key")
            assert page["currentStream"]["ingest"]["state"] == "connected"
            code, err = await encoder.wait(timeout=20)
            assert code == 0, err
        publishes = [r for r in (e.data for e in events_of(server, "WebhookReceipt."))
                     if r["event_type"] == "publish"]
        assert len(publishes) == 2

        out, err = capfd.readouterr()
        for secret in (key, new_key):
            assert secret not in out and secret not in err  # never in a log line
    finally:
        await api.close()
