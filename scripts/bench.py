"""Benchmarks of the spine on PostgreSQL (+ RabbitMQ for the end-to-end part).

Every figure is reported with a baseline measured in the same run, since the machine is
shared and noisy:
  1. SendMessage through the command path: group commit vs one save per message.
  2. End-to-end latency, HTTP command -> WebSocket delivery, at a fixed send rate.
  3. Projection rebuild rate vs reading the raw notification log.

Run: scripts/bench [--messages N] [--rate R] [--seconds S] [--rebuild-events N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import msgspec  # noqa: E402
import psycopg  # noqa: E402
import uvloop  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from yarl import URL  # noqa: E402

from commands.create_channel import CreateChannel, create_channel  # noqa: E402
from commands.go_live import GoLive, go_live  # noqa: E402
from commands.group_commit import GroupCommitter  # noqa: E402
from commands.register_user import RegisterUser, register_user  # noqa: E402
from commands.send_message import Author, SendMessage, send_message, send_messages  # noqa: E402
from infra.bootstrap import Services  # noqa: E402
from infra.settings import load_settings, postgres_params  # noqa: E402
from projections.chat_history import ChatHistory  # noqa: E402
from workers.projector import ProjectorRunner  # noqa: E402

DATABASE_URL = os.environ.get("AETHEX_BENCH_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("AETHEX_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def namespace() -> str:
    return f"bench_{os.getpid()}_{int(time.time())}"


def drop(ns: str) -> None:
    with psycopg.connect(**postgres_params(DATABASE_URL), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            psycopg.sql.Identifier(ns)))


def services_for(ns: str, **overrides: object) -> Services:
    return Services(load_settings({}, database_url=DATABASE_URL, namespace=ns,
                                  data_dir=f"/tmp/{ns}", jwt_secret="bench-key-" + "x" * 32,
                                  **overrides))


def live_stream(services: Services, name: str = "bench") -> tuple[UUID, Author]:
    owner = register_user(RegisterUser(email=f"{name}@example.com", username=name,
                                       password="correct horse"), services.store, services.hasher)
    channel = create_channel(CreateChannel(owner_id=owner.user.id, slug=f"{name}-chan",
                                           name="Bench"), services.store).channel
    stream = go_live(GoLive(actor_id=owner.user.id, channel_id=channel.id), services.store).stream
    return stream.id, Author(id=owner.user.id, username=name, display_name=name)


def bench_group_commit(messages: int, threads: int, max_batch: int) -> dict[str, float]:
    ns = namespace()
    services = services_for(ns)
    try:
        stream_id, author = live_stream(services)

        def one(i: int) -> None:
            send_message(SendMessage(stream_id=stream_id, author=author, content=f"single {i}"),
                         services.store)

        baseline_n = max(500, messages // 10)
        with ThreadPoolExecutor(threads) as pool:
            t0 = time.perf_counter()
            list(pool.map(one, range(baseline_n)))
            single_s = time.perf_counter() - t0

        sizes: list[int] = []
        committer = GroupCommitter(lambda cmds: send_messages(cmds, services.store),
                                   window_s=0.002, max_batch=max_batch, on_batch=sizes.append)

        async def flood(senders: int = max_batch) -> None:
            # Like API request handlers: many concurrent senders, each awaiting its result.
            async def sender(k: int) -> None:
                for i in range(k, messages, senders):
                    result = await committer(SendMessage(stream_id=stream_id, author=author,
                                                         content=f"grouped {i}"))
                    assert not isinstance(result, Exception), result

            await asyncio.gather(*(sender(k) for k in range(senders)))

        t0 = time.perf_counter()
        asyncio.run(flood())
        grouped_s = time.perf_counter() - t0
        committer.close()
        single_rate = baseline_n / single_s
        grouped_rate = messages / grouped_s
        return {"single_per_s": single_rate, "grouped_per_s": grouped_rate,
                "ratio": grouped_rate / single_rate, "batches": len(sizes),
                "mean_batch": statistics.mean(sizes), "max_batch": max(sizes),
                "baseline_n": baseline_n, "n": messages}
    finally:
        services.close()
        drop(ns)


def bench_rebuild(events: int) -> dict[str, float]:
    ns = namespace()
    services = services_for(ns, projector_batch_size=5000)
    try:
        stream_id, author = live_stream(services)
        for start in range(0, events, 1000):
            cmds = [SendMessage(stream_id=stream_id, author=author, content=f"rebuild {i}")
                    for i in range(start, min(events, start + 1000))]
            send_messages(cmds, services.store)
        head = services.store.head()
        recorder = services.store.app.recorder

        t0 = time.perf_counter()
        position, raw = 0, 0
        while position < head:
            page = recorder.select_notifications(start=position + 1, limit=5000)
            raw += len(page)
            position = page[-1].id
        raw_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        position, decoded = 0, 0
        while position < head:
            page, position = services.store.read(position, 5000)
            decoded += len(page)
        decode_s = time.perf_counter() - t0

        runner = ProjectorRunner(ChatHistory(), services.store, services.db, services.bus,
                                 batch_size=5000)
        t0 = time.perf_counter()
        asyncio.run(runner.catch_up())
        rebuild_s = time.perf_counter() - t0
        rows = services.db.fetch_one("SELECT COUNT(*) AS n FROM chat_messages")
        assert rows and rows["n"] == events, rows
        rebuild_rate, raw_rate = head / rebuild_s, raw / raw_s
        return {"events": head, "raw_per_s": raw_rate, "decode_per_s": decoded / decode_s,
                "rebuild_per_s": rebuild_rate, "ratio_to_raw": rebuild_rate / raw_rate}
    finally:
        services.close()
        drop(ns)


def start_topology(env: dict[str, str], port: int, topology: str,
                   processes: int = 1) -> list[subprocess.Popen[bytes]]:
    """The service as the benchmarks run it; the API node first in the list.

    "compose": as docker-compose.yml runs it, the API node runs no relay or projectors;
    `aethex relay` and `aethex project` run in their own processes. "single": one
    `aethex serve` runs everything (the embedded mode can only run this way)."""
    procs: list[subprocess.Popen[bytes]] = []
    if topology == "compose":
        env = {**env, "AETHEX_WORKERS": "reconnect_grace"}
        subprocess.run([sys.executable, "-m", "infra.cli", "migrate"], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL)
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "serve", "--port", str(port),
         "--processes", str(processes)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL))
    if topology == "compose":
        for command in ("relay", "project"):
            procs.append(subprocess.Popen([sys.executable, "-m", "infra.cli", command],
                                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL))
    return procs


def wait_ready(base: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        exited = [(p.args, p.returncode) for p in procs if p.poll() is not None]
        if exited:
            raise RuntimeError(f"the service did not start: exited {exited}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service did not answer on {base} within {timeout:g} s")
        time.sleep(0.2)


def stop_topology(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(20)


def bench_end_to_end(rate: int, seconds: float, viewers: int, processes: int = 1,
                     topology: str = "compose") -> dict[str, float]:
    """The real service on PostgreSQL + RabbitMQ; a sender process posts over HTTP at
    `rate` messages/s and this one times each message until it arrives on a WebSocket."""
    ns = namespace()
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "AETHEX_DATABASE_URL": DATABASE_URL, "AETHEX_RABBITMQ_URL": RABBITMQ_URL,
           "AETHEX_NAMESPACE": ns, "AETHEX_JWT_SECRET": "bench-key-" + "x" * 32,
           "AETHEX_LOG_LEVEL": "WARNING", "AETHEX_DATA_DIR": f"/tmp/{ns}",
           "AETHEX_CHAT_RATE_LIMIT": "none"}  # one bench user sends it all
    base = f"http://127.0.0.1:{port}"
    procs = start_topology(env, port, topology, processes)
    try:
        wait_ready(base, procs)
        return uvloop.run(_e2e(base, rate, seconds, viewers))
    finally:
        stop_topology(procs)
        drop(ns)


class _Frame(msgspec.Struct):
    """One WebSocket event; `data` stays undecoded unless it is a chat message."""

    event: str
    data: msgspec.Raw = msgspec.Raw()


class _Chat(msgspec.Struct):
    content: str  # "<index> <wall-clock send time>"


_decode_frames = msgspec.json.Decoder(list[_Frame] | _Frame).decode
_decode_chat = msgspec.json.Decoder(_Chat).decode
_CHAT_EVENT = b'"event":"chat:message"'  # as the server's compact msgspec encoding spells it


async def _e2e(base: str, rate: int, seconds: float, viewers: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.post("/api/auth/register", json={
            "email": "e2e@example.com", "username": "e2e", "password": "correct horse"})
        token = r.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        channel = (await http.post("/api/channels", json={"slug": "e2e", "name": "E2E"},
                                   headers=headers)).json()
        stream = (await http.post(f"/api/streams/{channel['id']}/start", json={},
                                  headers=headers)).json()
    sid = stream["id"]
    sockets = [await connect(f"{base.replace('http', 'ws')}/ws/streams/{sid}")
               for _ in range(viewers)]
    total = int(rate * seconds)
    latencies: list[float] = []
    received = [0] * viewers

    async def watch(k: int, ws: ClientConnection) -> None:
        # Viewer 0 decodes its frames (one frame, or several coalesced into an array) and
        # times each message from arrival; the others only count chat messages in the raw
        # bytes, as scripts/bench_chat.py does, so every viewer's delivery is still checked.
        try:
            while received[k] < total:
                raw = await ws.recv(decode=False)
                if k:
                    received[k] += raw.count(_CHAT_EVENT)
                    continue
                now = time.time()
                frames = _decode_frames(raw)
                for frame in frames if isinstance(frames, list) else (frames,):
                    if frame.event == "chat:message":
                        sent_at = _decode_chat(frame.data).content.split()[1]
                        latencies.append(now - float(sent_at))
                received[0] = len(latencies)
        except ConnectionClosed:
            pass

    cpu0 = time.process_time()
    watchers = [asyncio.create_task(watch(k, ws)) for k, ws in enumerate(sockets)]
    try:
        # The sender runs in its own process, so this one only receives.
        sender = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--send", base, sid, token, str(rate), str(total),
            stdout=asyncio.subprocess.PIPE)
        out, _ = await sender.communicate()
        sent = json.loads(out)
        finished, _ = await asyncio.wait(watchers, timeout=60)
        for w in finished:
            w.result()  # a watcher's own failure, if any
    finally:
        for w in watchers:
            w.cancel()
        for ws in sockets:
            await ws.close()
    viewer_cpu = time.process_time() - cpu0
    if not latencies:
        raise RuntimeError("no message reached the recorded viewer")
    latencies.sort()
    return {"sent": total, "errors": sent["errors"], "achieved_rate": sent["rate"],
            "delivered": len(latencies), "min_delivered": min(received),
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "max_ms": latencies[-1] * 1000, "viewers": viewers,
            "sender_cpu_ms": sent["cpu_s"] / total * 1000,
            "viewer_cpu_ms": viewer_cpu / total * 1000}


async def _send(base: str, sid: str, token: str, rate: int, total: int,
                workers: int = 64) -> None:
    """Sends `total` messages at `rate`/s, HTTP/1.1 over at most `workers` keep-alive
    connections, and prints one JSON line: errors (non-201 responses), the achieved rate and
    this process's CPU seconds spent sending (aiohttp's C parser costs far less per request
    than httpx, so the load generator leaves the CPU to the server)."""
    cpu0 = time.process_time()
    url = URL(f"{base}/api/streams/{sid}/messages")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    errors = 0
    queue: asyncio.Queue[int | None] = asyncio.Queue()

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        while (i := await queue.get()) is not None:
            body = json.dumps({"content": f"{i} {time.time()}"}, separators=(",", ":"))
            async with http.post(url, data=body.encode()) as resp:
                await resp.read()  # the whole response, so the connection is reused
                errors += resp.status != 201

    # One session whose pool holds `workers` connections: as cheap as a session per worker.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=workers),
                                     headers=headers, timeout=aiohttp.ClientTimeout(total=30),
                                     cookie_jar=aiohttp.DummyCookieJar()) as http:
        tasks = [asyncio.create_task(worker(http)) for _ in range(workers)]
        t0 = time.perf_counter()
        for i in range(total):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(i)
        for _ in tasks:
            queue.put_nowait(None)
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    print(json.dumps({"errors": errors, "rate": total / elapsed,
                      "cpu_s": time.process_time() - cpu0}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--max-batch", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--viewers", type=int, default=5)
    parser.add_argument("--processes", type=int, default=1, help="API processes (e2e)")
    parser.add_argument("--topology", choices=["compose", "single"], default="compose",
                        help="e2e: compose = API node, relay and projectors in their own "
                             "processes (as docker-compose.yml); single = one `aethex serve`")
    parser.add_argument("--rebuild-events", type=int, default=100000)
    parser.add_argument("--only", choices=["commit", "e2e", "rebuild"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["commit", "e2e", "rebuild"])
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"# AeThex Live benchmarks, {started}, {os.cpu_count()} cores")
    if "commit" in only:
        r = bench_group_commit(args.messages, args.threads, args.max_batch)
        print(f"SendMessage, one save per message ({args.threads} threads, {r['baseline_n']} msgs):"
              f" {r['single_per_s']:,.0f} msg/s")
        print(f"SendMessage, group commit ({r['n']} msgs): {r['grouped_per_s']:,.0f} msg/s, "
              f"{r['batches']} batches, mean {r['mean_batch']:.0f}, max {r['max_batch']}")
        print(f"  ratio group commit / one save per message: {r['ratio']:.1f}x")
    if "e2e" in only:
        r = bench_end_to_end(args.rate, args.seconds, args.viewers, args.processes,
                             args.topology)
        print(f"End to end ({args.topology} topology, {args.processes} API process(es)), "
              f"HTTP send -> WebSocket delivery, "
              f"target {args.rate} msg/s for "
              f"{args.seconds:.0f} s, {r['viewers']} viewers: achieved {r['achieved_rate']:,.0f} "
              f"msg/s, {r['errors']} errors, delivered {r['delivered']}/{r['sent']} "
              f"(fewest to one viewer {r['min_delivered']})")
        print(f"  CPU per message: sender {r['sender_cpu_ms']:.3f} ms, "
              f"viewers {r['viewer_cpu_ms']:.3f} ms")
        print(f"  latency p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
              f"max {r['max_ms']:.1f} ms")
    if "rebuild" in only:
        r = bench_rebuild(args.rebuild_events)
        print(f"Log of {r['events']:,} events: raw notification read {r['raw_per_s']:,.0f} ev/s, "
              f"read+decode {r['decode_per_s']:,.0f} ev/s")
        print(f"  chat_history rebuild {r['rebuild_per_s']:,.0f} ev/s "
              f"(ratio to raw read {r['ratio_to_raw']:.2f})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--send":
        _, _, base_url, stream, bearer, per_s, count = sys.argv
        uvloop.run(_send(base_url, stream, bearer, int(per_s), int(count)))
    else:
        main()
