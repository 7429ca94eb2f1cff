"""Stream start latency, against a real server (embedded by default; with
--production on PostgreSQL + RabbitMQ at the test URLs), each figure beside a baseline
measured in the same run:

  1. nginx-rtmp `on_publish` hook -> the stream LIVE in the read API (GET /api/streams/{id}
     polled), over N publishes; baseline: a plain GET round trip.
  2. first RTMP byte (ffmpeg started) -> first HLS segment fetchable over nginx's HTTP,
     with 1-second fragments, through real nginx-rtmp and ffmpeg.

Run: .venv/bin/python scripts/bench_ingest.py [--publishes 200] [--hls-runs 3] [--production]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from infra.ingest.nginx_rtmp import NginxRtmp, publish_command  # noqa: E402
from infra.observability.logging import configure_logging  # noqa: E402
from tests.harness import (  # noqa: E402
    drop_namespace,
    embedded_settings,
    new_namespace,
    production_settings,
    running,
)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, values: list[float]) -> str:
    return (f"{name:<44} n={len(values):<4} p50={pct(values, 50):7.2f} ms  "
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


async def first_segment(server_url: str, nginx: NginxRtmp, runs: int) -> None:
    async with httpx.AsyncClient(base_url=server_url, timeout=10) as http, \
            httpx.AsyncClient(timeout=5) as plain:
        token = (await http.post("/api/auth/login", json={
            "email": "bench@example.com", "password": "correct horse"})).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        results: list[float] = []
        for i in range(runs):
            key = await new_key(http, headers, 10_000 + i)
            t0 = time.perf_counter()
            ffmpeg = await asyncio.create_subprocess_exec(
                *publish_command(f"{nginx.ingest_url}/{key}", 5),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            try:
                sid = None
                while sid is None:
                    rows = (await http.get(f"/api/channels/bench-{10_000 + i}")).json()
                    sid = (rows.get("currentStream") or {}).get("id")
                    if time.perf_counter() - t0 > 15:
                        raise RuntimeError("the stream never went live")
                url = f"{nginx.http_url}/hls/{sid}.m3u8"
                while True:
                    r = await plain.get(url)
                    segs = [s for s in r.text.splitlines() if s and not s.startswith("#")] \
                        if r.status_code == 200 else []
                    if segs and (await plain.get(httpx.URL(url).join(segs[0]))).status_code \
                            == 200:
                        break
                    await asyncio.sleep(0.02)
                results.append((time.perf_counter() - t0) * 1000)
            finally:
                ffmpeg.kill()
                await ffmpeg.wait()
            await asyncio.sleep(1.5)
        print(line("first RTMP byte -> first HLS segment (1 s)", results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publishes", type=int, default=200)
    parser.add_argument("--hls-runs", type=int, default=3)
    parser.add_argument("--production", action="store_true")
    args = parser.parse_args()
    configure_logging(json_logs=False, level="WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        nginx = NginxRtmp(root / "nginx")
        overrides = {
            "ingest_rtmp_url": nginx.ingest_url,
            "ingest_nginx_push_url": nginx.push_url,
            "ingest_playback_template": f"{nginx.http_url}/hls/{{playback_id}}.m3u8",
            "log_level": "WARNING",
        }
        ns = new_namespace() if args.production else None
        settings = (production_settings(root, ns, **overrides) if ns
                    else embedded_settings(root, **overrides))
        print(f"mode: {'production (PostgreSQL + RabbitMQ)' if ns else 'embedded (SQLite)'}")
        try:
            with running(settings) as server:
                asyncio.run(publish_to_live(server.url, args.publishes))
                if args.hls_runs:
                    nginx.start(f"{server.url}/webhooks/nginx-rtmp")
                    try:
                        asyncio.run(first_segment(server.url, nginx, args.hls_runs))
                    finally:
                        nginx.stop()
        finally:
            if ns:
                drop_namespace(ns)


if __name__ == "__main__":
    main()
