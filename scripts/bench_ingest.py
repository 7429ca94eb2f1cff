"""Stream start latency, against a real server (embedded by default; with
--production on PostgreSQL + RabbitMQ at the test URLs), each figure beside a baseline
measured in the same run:

  1. nginx-rtmp `on_publish` hook -> the stream LIVE in the read API (GET /api/streams/{id}
     polled), over N publishes; baseline: a plain GET round trip.
  2. real publishes (ffmpeg started: the first RTMP byte) through real nginx-rtmp with
     1-second HLS fragments, for the source alone and for each transcoded ladder
     (--ladder, nginx's exec ffmpeg; by default one with the source as its top variant and
     one without): publish -> LIVE visible in the API, publish -> the first segment
     playable (the API's HLS URL; for a ladder, the master playlist, then the first
     variant it lists, where a player starts, giving a segment that downloads), and for a
     ladder publish -> every variant it lists playable. Baseline: the same nginx whose hook
     server answers at once (the redirect nginx needs, no API), so the ratio is what our
     hook path adds.

Run: .venv/bin/python scripts/bench_ingest.py [--publishes 200] [--hls-runs 3]
     [--ladder source,360p:800,240p:400 --ladder 360p:800,240p:400] [--size 640x360]
     [--production]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from infra.ingest.ladder import parse_qualities  # noqa: E402
from infra.ingest.nginx_rtmp import NginxRtmp, publish_command  # noqa: E402
from infra.observability.logging import configure_logging  # noqa: E402
from tests.harness import (  # noqa: E402
    drop_namespace,
    embedded_settings,
    new_namespace,
    production_settings,
    running,
)

# The transcoded ladders measured by default: the source as the top variant beside two
# renditions, and the two renditions alone.
LADDERS = ["source,360p:800,240p:400", "360p:800,240p:400"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, values: list[float]) -> str:
    return (f"{name:<60} n={len(values):<4} p50={pct(values, 50):7.2f} ms  "
            f"p99={pct(values, 99):7.2f} ms  max={max(values):7.2f} ms")


async def owner(http: httpx.AsyncClient) -> dict[str, str]:
    r = await http.post("/api/auth/register", json={
        "email": "bench@example.com", "username": "bench_owner", "password": "correct horse"})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def new_key(http: httpx.AsyncClient, headers: dict[str, str], i: int) -> str:
    r = await http.post("/api/channels", json={"slug": f"bench-{i}", "name": f"Bench {i}"},
                        headers=headers)
    r.raise_for_status()
    k = await http.get(f"/api/channels/{r.json()['id']}/stream-key", headers=headers)
    return k.json()["streamKey"]


async def publish_to_live(base: str, publishes: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        headers = await owner(http)
        keys = [await new_key(http, headers, i) for i in range(publishes)]
        baseline: list[float] = []
        hook: list[float] = []
        visible: list[float] = []
        for key in keys:
            t0 = time.perf_counter()
            await http.get("/health/live")
            baseline.append((time.perf_counter() - t0) * 1000)

            t0 = time.perf_counter()
            r = await http.post("/webhooks/nginx-rtmp/on_publish",
                                data={"call": "publish", "name": key, "app": "live"})
            hook.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 302, r.text
            sid = r.json()["streamId"]
            while True:
                view = await http.get(f"/api/streams/{sid}")
                if view.status_code == 200 and view.json()["status"] == "LIVE":
                    break
            visible.append((time.perf_counter() - t0) * 1000)
        print(line("baseline: GET /health/live round trip", baseline))
        print(line("on_publish answered (key checked, LIVE saved)", hook))
        print(line("on_publish -> LIVE visible in the read API", visible))


class InstantHooks:
    """The baseline's hook server: accepts every publish at once with the redirect nginx
    relays to (`hls/<name>`), as our on_publish does, without an API behind it."""

    def __init__(self, push_url: str) -> None:
        import http.server
        import threading

        push = push_url.rstrip("/")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                fields = dict(p.split("=", 1) for p in body.decode().split("&") if "=" in p)
                if self.path.startswith("/on_publish?") or self.path == "/on_publish":
                    self.send_response(302)
                    self.send_header("Location", f"{push}/{fields.get('name', 'x')}")
                else:
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def has_segment(plain: httpx.AsyncClient, media: httpx.URL) -> bool:
    """True when the media playlist at `media` lists a segment that downloads."""
    r = await plain.get(media)
    segs = [s for s in r.text.splitlines() if s and not s.startswith("#")] \
        if r.status_code == 200 else []
    return bool(segs) and (await plain.get(media.join(segs[0]))).status_code == 200


async def first_playable(plain: httpx.AsyncClient, url: str, variants: int) -> list[httpx.URL]:
    """Until `url` (a media playlist, or a master listing `variants` variants) has a
    segment that downloads: for a master, in the first variant it lists, where a player
    starts. The variants' playlists, for `all_playable`."""
    while True:
        r = await plain.get(url)
        lines = [s for s in r.text.splitlines() if s and not s.startswith("#")] \
            if r.status_code == 200 else []
        if variants and len(lines) == variants:
            listed = [httpx.URL(url).join(line) for line in lines]
            if await has_segment(plain, listed[0]):
                return listed
        elif not variants and lines and (
                await plain.get(httpx.URL(url).join(lines[0]))).status_code == 200:
            return []
        await asyncio.sleep(0.02)


async def all_playable(plain: httpx.AsyncClient, listed: list[httpx.URL]) -> None:
    """Until every variant listed has a segment that downloads (a player switching to
    any of them finds it)."""
    waiting = list(listed)
    while waiting:
        waiting = [media for media in waiting if not await has_segment(plain, media)]
        if waiting:
            await asyncio.sleep(0.02)


async def login_owner(base: str) -> None:
    """The owner the runs publish for, on a fresh server."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        await owner(http)


async def real_publishes(server_url: str, nginx: NginxRtmp, runs: int, size: str,
                         variants: int, label: str) -> None:
    """publish -> LIVE visible and publish -> first playable segment, through the API."""
    async with httpx.AsyncClient(base_url=server_url, timeout=10) as http, \
            httpx.AsyncClient(timeout=5) as plain:
        token = (await http.post("/api/auth/login", json={
            "email": "bench@example.com", "password": "correct horse"})).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        live_ms: list[float] = []
        playable_ms: list[float] = []
        every_ms: list[float] = []
        for i in range(runs):
            n = 10_000 + len(label) * 1000 + i
            key = await new_key(http, headers, n)
            t0 = time.perf_counter()
            ffmpeg = await asyncio.create_subprocess_exec(
                *publish_command(f"{nginx.ingest_url}/{key}", 8, size=size),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            try:
                url = None
                while url is None:
                    page = (await http.get(f"/api/channels/bench-{n}")).json()
                    url = (page.get("currentStream") or {}).get("hlsUrl")
                    if time.perf_counter() - t0 > 15:
                        raise RuntimeError("the stream never went live")
                live_ms.append((time.perf_counter() - t0) * 1000)
                listed = await asyncio.wait_for(first_playable(plain, url, variants), 30)
                playable_ms.append((time.perf_counter() - t0) * 1000)
                if listed:
                    await asyncio.wait_for(all_playable(plain, listed), 30)
                    every_ms.append((time.perf_counter() - t0) * 1000)
            finally:
                ffmpeg.kill()
                await ffmpeg.wait()
            await asyncio.sleep(1.5)
        print(line(f"{label}: publish -> LIVE visible in the API", live_ms))
        print(line(f"{label}: publish -> first segment playable", playable_ms))
        if every_ms:
            print(line(f"{label}: publish -> every variant playable", every_ms))


async def baseline_publishes(nginx: NginxRtmp, runs: int, size: str, variants: int,
                             label: str) -> None:
    """The same publishes into the same nginx, its hooks answered at once."""
    results: list[float] = []
    every: list[float] = []
    async with httpx.AsyncClient(timeout=5) as plain:
        for i in range(runs):
            name = f"base-{'ladder' if variants else 'source'}-{i}"
            t0 = time.perf_counter()
            ffmpeg = await asyncio.create_subprocess_exec(
                *publish_command(f"{nginx.ingest_url}/{name}", 8, size=size),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            try:
                listed = await asyncio.wait_for(first_playable(
                    plain, f"{nginx.http_url}/hls/{name}.m3u8", variants), 30)
                results.append((time.perf_counter() - t0) * 1000)
                if listed:
                    await asyncio.wait_for(all_playable(plain, listed), 30)
                    every.append((time.perf_counter() - t0) * 1000)
            finally:
                ffmpeg.kill()
                await ffmpeg.wait()
            await asyncio.sleep(1.5)
    print(line(f"baseline {label}: publish -> first segment", results))
    if every:
        print(line(f"baseline {label}: publish -> every variant", every))


def run_video(settings_for: Any, root: Path, slug: str, label: str, qualities: str,
              args: Any) -> None:
    """One video configuration: the API configured for its own nginx, then the baseline."""
    variants = len(parse_qualities(qualities))
    ours = NginxRtmp(root / f"nginx-{slug}", qualities=qualities)
    settings = settings_for(
        root / slug, ingest_qualities=qualities,
        ingest_rtmp_url=ours.ingest_url, ingest_nginx_push_url=ours.push_url,
        ingest_playback_template=f"{ours.http_url}/hls/{{playback_id}}.m3u8")
    with running(settings) as server:
        asyncio.run(login_owner(server.url))
        ours.start(f"{server.url}/webhooks/nginx-rtmp")
        try:
            asyncio.run(real_publishes(server.url, ours, args.hls_runs, args.size, variants,
                                       label))
        finally:
            ours.stop()
    base = NginxRtmp(root / f"nginx-base-{slug}", qualities=qualities)
    hooks = InstantHooks(base.push_url)
    base.start(hooks.url)
    try:
        asyncio.run(baseline_publishes(base, args.hls_runs, args.size, variants, label))
    finally:
        base.stop()
        hooks.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publishes", type=int, default=200)
    parser.add_argument("--hls-runs", type=int, default=3)
    parser.add_argument("--ladder", action="append",
                        help="renditions of transcoded runs, once per ladder (default: "
                             f"{' and '.join(LADDERS)}; '' to skip them)")
    parser.add_argument("--size", default="640x360", help="the encoder's picture size")
    parser.add_argument("--production", action="store_true")
    args = parser.parse_args()
    configure_logging(json_logs=False, level="WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # the media workers (thumbnails, VODs) stay out of the timings
        overrides = {"log_level": "WARNING", "workers": "relay,projectors,reconnect_grace"}
        namespaces: list[str] = []

        def settings_for(where: Path, **more: Any) -> Any:
            where.mkdir(parents=True, exist_ok=True)
            if args.production:
                namespaces.append(new_namespace())
                return production_settings(where, namespaces[-1], **overrides, **more)
            return embedded_settings(where, **overrides, **more)

        mode = "production (PostgreSQL + RabbitMQ)" if args.production else "embedded (SQLite)"
        print(f"mode: {mode}; encoder {args.size}, x264 ultrafast, 1-second HLS fragments")
        try:
            if args.publishes:
                with running(settings_for(root / "hooks")) as server:
                    asyncio.run(publish_to_live(server.url, args.publishes))
            if args.hls_runs:
                run_video(settings_for, root, "source", "source", "source", args)
                ladders = [q for q in (LADDERS if args.ladder is None else args.ladder) if q]
                for k, qualities in enumerate(ladders):
                    run_video(settings_for, root, f"ladder{k}", f"ladder {qualities}",
                              qualities, args)
        finally:
            for ns in namespaces:
                drop_namespace(ns)


if __name__ == "__main__":
    main()
