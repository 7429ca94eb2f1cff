"""Going live for real: nginx with the RTMP module, its hooks pointed at the API,
and ffmpeg publishing a generated test pattern with the owner's stream key. Asserts LIVE,
a playable HLS URL from the API, a thumbnail grabbed from it, a refused wrong (and rotated)
key, an encoder that reconnects within the grace going on with the same stream, ENDING then
ARCHIVED after the grace, and the whole stream (both recordings, joined without re-encoding,
its duration theirs) as the VOD; on local disk, and in the S3 archive bucket; and no stream
key in any log, ours or nginx's."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.ingest.nginx_rtmp import NginxRtmp
from infra.media import ffmpeg
from infra.storage.recordings import S3Recordings
from tests.harness import LiveServer
from tests.integration.client import Api, assert_problem, next_event
from tests.integration.identity_support import MotoS3
from tests.integration.ingest_support import Encoder, publish_once, with_nginx
from workers.vod_publisher import allowed_gap_s

MEDIA = {"ingest_thumbnail_interval_s": 1.0, "ingest_reconnect_grace_s": 3.0}


@pytest.fixture(params=["embedded", "production"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LiveServer, NginxRtmp]]:
    with with_nginx(request.param, tmp_path, **MEDIA) as pair:
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


def video_packets(path: str) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                          "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return int(out.strip())


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

        async with Encoder(f"{nginx.ingest_url}/{key}", seconds=3) as encoder:
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

            # A frame grabbed from the live playlist is the stream's thumbnail, stored like
            # uploaded images, and the channel page shows it.
            async def thumbnail() -> str | None:
                page = (await api.http.get(f"/api/channels/{slug}")).json()
                return (page.get("currentStream") or {}).get("thumbnailUrl")
            live_thumbnail = await poll(thumbnail, "a thumbnail of the live stream")
            image = await api.http.get(live_thumbnail)
            assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"  # a JPEG

            code, err = await encoder.wait(timeout=20)
            assert code == 0, err

        # The encoder drops and comes back within the grace: the same stream goes on, and
        # nginx records a second part.
        async with Encoder(f"{nginx.ingest_url}/{key}", seconds=2) as encoder:
            async def reconnected() -> bool:
                return bool(events_of(server, "Stream.IngestReconnected"))
            await poll(reconnected, "the encoder back on the same stream")
            code, err = await encoder.wait(timeout=20)
            assert code == 0, err

        # The encoder is gone: LIVE until the grace passes, then ENDING, then ARCHIVED.
        statuses: list[str] = []
        while "ARCHIVED" not in statuses:
            statuses.append((await next_event(ws, "stream:status", timeout=15))["status"])
        assert statuses.index("ENDING") < statuses.index("ARCHIVED")
        await ws.close()

        # The VOD is the whole stream: both recordings joined, in order, as one MP4 beside
        # them, lasting what they last together, with a thumbnail of its own.
        async def vod_published() -> dict[str, Any] | None:
            view = (await api.http.get(f"/api/streams/{sid}")).json()
            return view if (view["vodUrl"] or "").endswith(".mp4") else None
        view = await poll(vod_published, "the whole-stream VOD", timeout=20)
        assert view["status"] == "ARCHIVED" and view["endTime"] and view["duration"] >= 4
        assert view["hlsUrl"] is None
        parts = [Path(p["recordingPath"]) for p in view["recordings"]]
        assert len(parts) == 2 and all(p.parent == nginx.record_dir for p in parts)
        assert all(sid in p.name and key not in p.name for p in parts)
        whole = Path(view["recordingPath"])
        assert whole == nginx.record_dir / f"{sid}.mp4"
        assert view["vodUrl"] == f"{nginx.http_url}/recordings/{sid}.mp4"
        part_s = [ffmpeg.duration_s(str(p)) for p in parts]
        whole_s = ffmpeg.duration_s(view["vodUrl"])  # read back through nginx
        assert abs(whole_s - sum(part_s)) <= allowed_gap_s(2, sum(part_s)), (whole_s, part_s)
        assert whole_s >= 4.0
        # no re-encode: every video packet of the parts is in the whole, as it was
        assert video_packets(str(whole)) == sum(video_packets(str(p)) for p in parts)
        assert view["thumbnailUrl"] and view["thumbnailUrl"] != live_thumbnail
        vod = await api.http.get(f"/api/channels/{cid}/vod")
        assert vod.status_code == 200
        [item] = vod.json()["items"]
        assert item["id"] == sid and item["vodUrl"] == view["vodUrl"]
        assert [r["recordingPath"] for r in item["recordings"]] == [str(p) for p in parts]
        async with httpx.AsyncClient(timeout=5) as plain:
            got = await plain.get(item["vodUrl"])
            assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
        page = (await api.http.get(f"/api/channels/{slug}")).json()
        assert page["isLive"] is False and page["currentStream"] is None
        assert len(events_of(server, "Stream.IngestDisconnected")) == 2
        receipts = [e.data for e in events_of(server, "WebhookReceipt.")]
        # nginx sends publish_done and record_done in either order; both lead here.
        assert sorted(r["event_type"] for r in receipts) == [
            "publish", "publish", "publish_done", "publish_done", "record_done",
            "record_done"]

        # Rotation: the old key is refused at once, the new one works.
        r = await api.http.post(f"/api/channels/{cid}/stream-key/rotate",
                                headers=owner["headers"])
        assert r.status_code == 200 and r.json()["streamKey"] != key
        new_key = r.json()["streamKey"]
        assert_problem(await api.http.post(f"/api/channels/{cid}/stream-key/rotate",
                                           headers=other["headers"]), 403)
        code, _ = await publish_once(f"{nginx.ingest_url}/{key}")
        assert code != 0
        assert len(events_of(server, "WebhookReceipt.")) == 6
        async with Encoder(f"{nginx.ingest_url}/{new_key}", seconds=2) as encoder:
            page = await poll(lambda: live_page(besides=sid),
                              "a new stream LIVE with the rotated key")
            assert page["currentStream"]["ingest"]["state"] == "connected"
            code, err = await encoder.wait(timeout=20)
            assert code == 0, err
        publishes = [r for r in (e.data for e in events_of(server, "WebhookReceipt."))
                     if r["event_type"] == "publish"]
        assert len(publishes) == 3  # two for the first stream, one for this

        out, err = capfd.readouterr()
        nginx.stop()  # its logs are complete once it has exited
        logs = {path.name: path.read_text(errors="replace")
                for path in nginx.root.glob("*.log")}
        assert {"error.log", "rtmp-access.log", "stderr.log"} <= set(logs)
        assert "PUBLISH" in logs["rtmp-access.log"]  # the access log does log publishes
        for secret in (key, new_key):  # never in a log line, ours or nginx's
            assert secret not in out and secret not in err
            assert [name for name, text in logs.items() if secret in text] == []
    finally:
        await api.close()


def ffprobe_heights(url: str) -> list[int]:
    """The video heights ffprobe finds behind a URL (for a master playlist: one per
    variant)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v",
                          "-show_entries", "stream=height", "-of", "csv=p=0", url],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return [int(h) for h in out.split()]


# (AETHEX_INGEST_QUALITIES, the master's variants with {sid} for the stream id, their
# BANDWIDTH, the heights ffprobe finds); the encoder sends 320x240
LADDERS = [
    ("240p:300,160p:150", ["{sid}_240p.m3u8", "{sid}_160p.m3u8"], [396000, 246000],
     [160, 240]),
    ("source:500,180p:200,120p:100",
     ["source/{sid}.m3u8", "{sid}_180p.m3u8", "{sid}_120p.m3u8"], [596000, 296000, 196000],
     [120, 180, 240]),
]


@pytest.mark.parametrize(("qualities", "variants", "bandwidths", "heights"), LADDERS,
                         ids=["transcoded", "source-on-top"])
async def test_a_ladder_of_renditions_is_an_hls_master_with_a_playable_variant_each(
    tmp_path: Path, qualities: str, variants: list[str], bandwidths: list[int],
    heights: list[int],
) -> None:
    """With AETHEX_INGEST_QUALITIES naming renditions, nginx runs ffmpeg (its `exec`) to
    transcode the source into each, and the stream's hlsUrl is the master playlist; with
    `source` in the ladder, the encoder's own stream is its first variant. Small
    renditions, so two cores keep up."""
    with with_nginx("embedded", tmp_path, qualities=qualities) as (server, nginx):
        api = Api(server.url, server.ws_url)
        try:
            config = (await api.http.get("/api/ingest/config")).json()
            assert config["qualities"] == [q.split(":")[0] for q in qualities.split(",")]
            owner = await api.register()
            channel = await api.channel(owner)
            key = (await api.http.get(f"/api/channels/{channel['id']}/stream-key",
                                      headers=owner["headers"])).json()["streamKey"]
            async with Encoder(f"{nginx.ingest_url}/{key}", seconds=5) as encoder, \
                    httpx.AsyncClient(timeout=5) as plain:
                # no master for a stream that has no video (yet)
                missing = await plain.get(f"{nginx.http_url}/hls/not-live-0.m3u8")
                assert missing.status_code == 404
                assert missing.headers["access-control-allow-origin"] == "*"
                assert missing.headers["cache-control"] == "no-cache"
                # a variant or segment not there yet: a 404 a browser's player can read
                gone = await plain.get(f"{nginx.http_url}/hls/source/not-live-0.m3u8")
                assert gone.status_code == 404
                assert gone.headers["access-control-allow-origin"] == "*"

                async def live() -> dict[str, Any] | None:
                    page = (await api.http.get(f"/api/channels/{channel['slug']}")).json()
                    return (page.get("currentStream") or {}).get("hlsUrl") and page
                page = await poll(live, "the stream LIVE with a playlist")
                sid, master_url = page["currentStream"]["id"], page["currentStream"]["hlsUrl"]
                assert master_url == f"{nginx.http_url}/hls/{sid}.m3u8"

                async def master() -> httpx.Response | None:
                    r = await plain.get(master_url)
                    return r if r.status_code == 200 else None
                r = await poll(master, "the master playlist", 20)
                assert r.headers["content-type"] == "application/vnd.apple.mpegurl"
                assert r.headers["access-control-allow-origin"] == "*"
                listed = [line for line in r.text.splitlines()
                          if line and not line.startswith("#")]
                assert listed == [v.format(sid=sid) for v in variants]
                assert re.findall(r"#EXT-X-STREAM-INF:BANDWIDTH=(\d+)", r.text) == [
                    str(b) for b in bandwidths]

                async def segment(variant: str) -> bytes | None:
                    url = httpx.URL(master_url).join(variant)
                    r = await plain.get(url)
                    segs = [s for s in r.text.splitlines() if s and not s.startswith("#")] \
                        if r.status_code == 200 else []
                    return (await plain.get(url.join(segs[0]))).content if segs else None
                # the first variant, where players start, had its segment when the master
                # appeared; each other one gets its own
                assert (await segment(listed[0])) is not None
                for variant in listed:  # each variant has segments that are MPEG-TS
                    data = await poll(lambda v=variant: segment(v), f"a segment of {variant}")
                    assert data[0] == 0x47 and len(data) > 1000
                # ffprobe lists the variants, one per rendition, at their heights ...
                found = await asyncio.to_thread(ffprobe_heights, master_url)
                assert sorted(set(found)) == heights
                # ... and each plays: ffmpeg decodes frames from it
                for variant in listed:
                    decoded = await asyncio.to_thread(subprocess.run, [
                        "ffmpeg", "-v", "error", "-i", f"{nginx.http_url}/hls/{variant}",
                        "-frames:v", "10", "-f", "null", "-"], capture_output=True, timeout=30)
                    assert decoded.returncode == 0, decoded.stderr
                code, err = await encoder.wait(timeout=20)
                assert code == 0, err
        finally:
            await api.close()


async def test_recordings_and_the_vod_go_to_the_s3_archive(tmp_path: Path) -> None:
    """With S3 configured, each finished recording and the joined VOD are uploaded to the
    bucket (multipart) and served from there; nothing stays on the ingest host's disk.
    The bucket is moto's S3 server, as the upload tests use."""
    with MotoS3() as s3, with_nginx("embedded", tmp_path, **MEDIA, **s3.settings()) as (
            server, nginx):
        api = Api(server.url, server.ws_url)
        try:
            owner = await api.register()
            channel = await api.channel(owner)
            key = (await api.http.get(f"/api/channels/{channel['id']}/stream-key",
                                      headers=owner["headers"])).json()["streamKey"]
            code, err = await publish_once(f"{nginx.ingest_url}/{key}", seconds=2)
            assert code == 0, err
            [stream] = events_of(server, "Stream.Created")
            sid = str(stream.aggregate_id)

            async def vod_published() -> dict[str, Any] | None:
                view = (await api.http.get(f"/api/streams/{sid}")).json()
                return view if (view["vodUrl"] or "").endswith(".mp4") else None
            view = await poll(vod_published, "the VOD in the bucket", timeout=20)
            prefix = f"recordings/{sid}/"
            assert view["recordingPath"] == f"s3://{s3.bucket}/{prefix}{sid}.mp4"
            assert view["vodUrl"] == f"{s3.endpoint}/{s3.bucket}/{prefix}{sid}.mp4"
            [part] = view["recordings"]
            part_key = part["recordingPath"].removeprefix(f"s3://{s3.bucket}/")
            assert part_key.startswith(prefix) and part_key.endswith(".flv")
            assert part["vodUrl"] == f"{s3.endpoint}/{s3.bucket}/{part_key}"
            assert set(s3.keys()) >= {part_key, f"{prefix}{sid}.mp4"}
            for key_ in (part_key, f"{prefix}{sid}.mp4"):  # uploaded in parts
                etag = s3.client.head_object(Bucket=s3.bucket, Key=key_)["ETag"]
                assert etag.strip('"').endswith("-1"), etag
            assert list(nginx.record_dir.iterdir()) == []  # archived, not kept on disk
            whole_s = ffmpeg.duration_s(view["vodUrl"])  # read back from the bucket
            part_s = ffmpeg.duration_s(part["vodUrl"])
            assert abs(whole_s - part_s) <= allowed_gap_s(1, part_s) and whole_s >= 1.5
            assert view["thumbnailUrl"].startswith(f"{s3.endpoint}/{s3.bucket}/images/")
        finally:
            await api.close()


def test_a_large_recording_goes_up_in_several_parts(tmp_path: Path) -> None:
    with MotoS3() as s3:
        store = S3Recordings(s3.bucket, endpoint_url=s3.endpoint, region="us-east-1",
                             access_key_id="test", secret_access_key="test", public_url=None,
                             part_bytes=5 * 1024 * 1024)
        big = tmp_path / "big.flv"
        data = os.urandom(11 * 1024 * 1024)
        big.write_bytes(data)
        kept = store.keep(big, "s1/big.flv", "video/x-flv")
        assert kept.path == f"s3://{s3.bucket}/recordings/s1/big.flv"
        head = s3.client.head_object(Bucket=s3.bucket, Key="recordings/s1/big.flv")
        assert head["ETag"].strip('"').endswith("-3") and head["ContentLength"] == len(data)
        body = s3.client.get_object(Bucket=s3.bucket, Key="recordings/s1/big.flv")["Body"]
        assert body.read() == data
        # A failed upload leaves no object and no open multipart upload behind.
        empty = tmp_path / "empty.flv"
        empty.write_bytes(b"")
        with pytest.raises(ValueError):
            store.keep(empty, "s1/empty.flv", "video/x-flv")
        assert s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []
        assert "recordings/s1/empty.flv" not in set(s3.keys())


async def test_a_publisher_far_above_the_top_rendition_is_refused(tmp_path: Path) -> None:
    """AETHEX_INGEST_OVER_BITRATE=refuse: nginx's update hook asks the API every second,
    the API reads the publisher's bitrate from nginx's statistics, and one far above the
    ladder's top rendition (here twice 150+96 kbps) is dropped; an encoder within it is not."""
    with with_nginx("embedded", tmp_path, qualities="160p:150", update_interval="1s",
                    ingest_over_bitrate="refuse") as (server, nginx):
        api = Api(server.url, server.ws_url)
        try:
            owner = await api.register()
            channel = await api.channel(owner)
            key = (await api.http.get(f"/api/channels/{channel['id']}/stream-key",
                                      headers=owner["headers"])).json()["streamKey"]
            # ~190 kbps of video and audio: checked each second, never dropped
            async with Encoder(f"{nginx.ingest_url}/{key}", seconds=4, cbr_kbps=100) as ok:
                code, err = await ok.wait(timeout=20)
            assert code == 0, err
            assert events_of(server, "Stream.IngestRefused") == []
            # 1,500 kbps: dropped once nginx's figures cover three seconds of it
            started = time.monotonic()
            async with Encoder(f"{nginx.ingest_url}/{key}", seconds=15, cbr_kbps=1500) as big:
                code, _ = await big.wait(timeout=20)
            assert code != 0 and time.monotonic() - started < 10  # cut off, not finished
            [refused] = events_of(server, "Stream.IngestRefused")
            assert refused.data["bitrate_kbps"] > refused.data["limit_kbps"] == 2 * 246
            assert refused.data["provider"] == "nginx-rtmp"
        finally:
            await api.close()
