"""Chat fan-out benchmark: N viewers in a room, senders at R messages/s.

Prints delivered messages/s and delivery latency (send -> WebSocket frame) p50/p99, and
checks that nothing was lost. The server runs as a real `aethex serve` process
(PostgreSQL + RabbitMQ + Redis unless --embedded); viewers run in --procs separate client
processes, each decoding a sample of its connections fully and counting the rest cheaply.

  scripts/bench-chat --viewers 1000 --rate 100 --seconds 10          # one big room
  scripts/bench-chat --rooms 10 --viewers 100 --rate 1000 --seconds 10  # stress
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from scripts.bench import drop, start_topology, stop_topology, wait_ready  # noqa: E402

DATABASE_URL = os.environ.get("AETHEX_BENCH_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("AETHEX_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("AETHEX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SAMPLE = 10  # connections per client process whose frames are decoded for latency


async def viewers_main(ws_url: str, streams: list[str], count: int, expect: int,
                       seconds: float) -> None:
    """One client process: `count` viewers spread over `streams`; prints a JSON summary.

    aiohttp's WebSocket client (its frame reader is compiled) under uvloop: the viewers
    share the machine with the server, so the cheaper they are, the less they distort it."""
    import aiohttp

    received = [0] * count
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        conns = []
        for i in range(count):
            conns.append(await session.ws_connect(
                f"{ws_url}/ws/streams/{streams[i % len(streams)]}", max_msg_size=2**24,
                autoping=True, compress=0))
        print("ready", flush=True)

        async def watch(i: int) -> None:
            ws = conns[i]
            sample = i < SAMPLE
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                raw = msg.data
                if sample:
                    payload = json.loads(raw)
                    for frame in payload if isinstance(payload, list) else [payload]:
                        if frame["event"] == "chat:message":
                            received[i] += 1
                            sent = float(frame["data"]["content"].split()[1])
                            latencies.append(time.time() - sent)
                else:
                    received[i] += raw.count('"event":"chat:message"')
                if received[i] >= expect:
                    return

        tasks = [asyncio.create_task(watch(i)) for i in range(count)]
        await asyncio.wait(tasks, timeout=seconds + 60)
        for ws in conns:
            await ws.close()
    print(json.dumps({"received": received, "latencies": latencies}), flush=True)


async def run(args: argparse.Namespace) -> dict[str, float]:
    ns = f"benchchat_{os.getpid()}"
    port = 19000 + os.getpid() % 500
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    env = {**os.environ, "AETHEX_NAMESPACE": ns, "AETHEX_JWT_SECRET": "bench-" + "k" * 32,
           "AETHEX_LOG_LEVEL": "WARNING", "AETHEX_DATA_DIR": f"/tmp/{ns}",
           "AETHEX_CHAT_RATE_LIMIT": "none",
           "AETHEX_WS_COALESCE_MS": str(args.coalesce_ms), "AETHEX_WS_MAX_QUEUE": "100000"}
    if not args.embedded:
        env.update(AETHEX_DATABASE_URL=DATABASE_URL, AETHEX_RABBITMQ_URL=RABBITMQ_URL,
                   AETHEX_REDIS_URL=REDIS_URL)
    procs = start_topology(env, port, args.topology)
    clients: list[asyncio.subprocess.Process] = []
    try:
        wait_ready(base, procs)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            tokens, streams = [], []
            for i in range(max(args.rooms, args.senders)):
                r = await http.post("/api/auth/register", json={
                    "email": f"b{i}@example.com", "username": f"bencher{i}",
                    "password": "correct horse"})
                tokens.append(r.json()["token"])
            for i in range(args.rooms):
                headers = {"Authorization": f"Bearer {tokens[i]}"}
                ch = (await http.post("/api/channels", json={"slug": f"room-{i}", "name": "R"},
                                      headers=headers)).json()
                s = (await http.post(f"/api/streams/{ch['id']}/start", json={},
                                     headers=headers)).json()
                streams.append(s["id"])
                await http.get(f"/api/streams/{s['id']}", params={"after": s["position"]})
        total = int(args.rate * args.seconds)
        per_room = total // args.rooms
        per_proc = args.viewers * args.rooms // args.procs
        for _ in range(args.procs):
            clients.append(await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--viewers-proc", ws_url, ",".join(streams),
                str(per_proc), str(per_room), str(args.seconds),
                stdout=asyncio.subprocess.PIPE))
        for c in clients:
            assert c.stdout is not None
            assert (await c.stdout.readline()).strip() == b"ready"

        senders = [await connect(f"{ws_url}/ws/chat?token={tokens[i % len(tokens)]}")
                   for i in range(args.senders)]
        rooms_of = [i % args.rooms for i in range(args.senders)]
        for ws, room in zip(senders, rooms_of, strict=True):
            await ws.send(json.dumps({"event": "chat:join", "data": {"streamId": streams[room]}}))
        drains = [asyncio.create_task(_drain(ws)) for ws in senders]
        await asyncio.sleep(0.5)
        t0 = time.perf_counter()
        for i in range(total):
            delay = t0 + i / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sender = senders[i % args.senders]
            await sender.send(json.dumps({"event": "chat:send",
                                          "data": {"content": f"{i} {time.time()}"}}))
        send_s = time.perf_counter() - t0
        received, latencies = 0, []
        for c in clients:
            out, _ = await c.communicate()
            summary = json.loads(out.decode().strip().splitlines()[-1])
            received += sum(summary["received"])
            latencies += summary["latencies"]
        elapsed = time.perf_counter() - t0
        for d in drains:
            d.cancel()
        for ws in senders:
            await ws.close()
        expected = per_room * args.viewers * args.rooms
        latencies.sort()
        return {"sent": total, "send_rate": total / send_s, "expected": expected,
                "received": received, "delivered_per_s": received / elapsed,
                "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else float("nan"),
                "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
                if latencies else float("nan")}
    finally:
        for c in clients:
            if c.returncode is None:
                c.kill()
        stop_topology(procs)
        if not args.embedded:
            drop(ns)


async def _drain(ws) -> None:
    async for _ in ws:
        pass


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--viewers-proc":
        _, _, ws_url, streams, count, expect, seconds = sys.argv
        import uvloop

        uvloop.run(viewers_main(ws_url, streams.split(","), int(count), int(expect),
                                float(seconds)))
        return
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--viewers", type=int, default=1000, help="viewers per room")
    p.add_argument("--rooms", type=int, default=1)
    p.add_argument("--rate", type=float, default=100, help="messages/s over all rooms")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--senders", type=int, default=10)
    p.add_argument("--procs", type=int, default=2, help="viewer client processes")
    p.add_argument("--coalesce-ms", type=float, default=25)
    p.add_argument("--embedded", action="store_true")
    p.add_argument("--topology", choices=["compose", "single"], default="compose",
                   help="compose: API node + relay + projectors in their own processes, as "
                        "docker-compose.yml runs them; single: `aethex serve` runs it all")
    args = p.parse_args()
    if args.embedded:
        args.topology = "single"  # the embedded store and bus live in one process
    r = asyncio.run(run(args))
    mode = "embedded" if args.embedded else f"PostgreSQL+RabbitMQ+Redis, {args.topology}"
    print(f"# chat fan-out ({mode}): {args.rooms} room(s) x {args.viewers} viewers, "
          f"{args.rate:g} msg/s for {args.seconds:g} s, coalescing {args.coalesce_ms:g} ms")
    print(f"sent {r['sent']} at {r['send_rate']:,.0f} msg/s; delivered {r['received']:,} of "
          f"{r['expected']:,} ({r['delivered_per_s']:,.0f} deliveries/s); "
          f"lost {r['expected'] - r['received']}")
    print(f"latency send -> frame: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")


if __name__ == "__main__":
    main()
