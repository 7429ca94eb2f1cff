"""Chat fan-out benchmark: N viewers in a room, senders at R messages/s, open loop.

Message i is due at t0 + i/R and is timed from that moment, at every viewer (no sample):
each viewer reads the message numbers and store positions from the raw frame text, and
counts what it got by message number (delivered, lost, doubled, out of order). Viewers
watch until the last message was sent plus --drain seconds, never until an expected
count. Prints how far behind its schedule the sender fell, too. The server runs as a real
`aethex serve` (PostgreSQL + RabbitMQ + Redis unless --embedded); viewers run in --procs
separate client processes.

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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from scripts.bench import (  # noqa: E402
    Histogram,
    Schedule,
    ViewerTally,
    add_counts,
    closed_line,
    counts_line,
    drop,
    lag_line,
    merge_counts,
    parse_messages,
    start_topology,
    stop_topology,
    wait_ready,
)

DATABASE_URL = os.environ.get("AETHEX_BENCH_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("AETHEX_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("AETHEX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def room_of(i: int, senders: int, rooms: int) -> int:
    """The room message i goes to: sender i % senders sends it, sender k sits in room
    k % rooms. Viewers and the sending loop both use this."""
    return (i % senders) % rooms


async def viewers_main(ws_url: str, streams: list[str], first: int, count: int, total: int,
                       rate: float, senders: int) -> None:
    """One client process: viewers `first` to `first + count - 1` of the run, viewer k in
    room k % len(streams). Prints "ready" once
    connected, reads "go <t0>" (the schedule) and then "stop" from stdin, and prints a
    JSON summary: counts over its viewers and the latency histogram of every delivery.

    aiohttp's WebSocket client (its frame reader is compiled) under uvloop: the viewers
    share the machine with the server, so the cheaper they are, the less they distort it."""
    import aiohttp

    rooms = len(streams)
    schedule = Schedule(rate)
    latency = Histogram()
    tallies = [ViewerTally(total) for _ in range(count)]
    # A room's frame is the same text for every viewer in it: read each distinct frame
    # once. Every viewer still takes its own arrival time and keeps its own counts.
    parsed: dict[str, tuple[list[tuple[int, int]], int]] = {}
    closed_early: dict[str, int] = {}  # close code -> connections
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        conns = []
        for i in range(count):
            conns.append(await session.ws_connect(
                f"{ws_url}/ws/streams/{streams[(first + i) % rooms]}", max_msg_size=2**24,
                autoping=True, compress=0))
        print("ready", flush=True)

        async def watch(i: int) -> None:
            ws, tally = conns[i], tallies[i]
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                now = time.time()
                raw = msg.data
                found = parsed.get(raw)
                if found is None:
                    if len(parsed) > 4096:
                        parsed.clear()
                    found = parsed[raw] = parse_messages(raw)
                tally.add(found[0], found[1], now, schedule, latency)
            # The server closed it (a slow consumer is closed with 4008): say with what.
            closed_early[str(ws.close_code)] = closed_early.get(str(ws.close_code), 0) + 1

        tasks = [asyncio.create_task(watch(i)) for i in range(count)]
        go = (await stdin.readline()).split()
        if go:
            schedule.t0 = float(go[1])
        await stdin.readline()  # "stop", or the end of stdin if the parent is gone
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ws in conns:
            await ws.close()
    if schedule.t0 is None:
        schedule.t0 = 0.0  # never started: nothing was due, every count below is zero
    masks = [bytes(room_of(i, senders, rooms) == r for i in range(total)) for r in range(rooms)]
    counts = add_counts([t.finish(masks[(first + k) % rooms], schedule, latency)
                         for k, t in enumerate(tallies)])
    print(json.dumps({"counts": counts, "closed_early": closed_early,
                      "latency": latency.to_json()}), flush=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    ns = f"benchchat_{os.getpid()}"
    port = 19000 + os.getpid() % 500
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    env = {**os.environ, "AETHEX_NAMESPACE": ns, "AETHEX_JWT_SECRET": "bench-" + "k" * 32,
           "AETHEX_WEBHOOK_SECRET_KEY": "bench-" + "k" * 32,
           "AETHEX_LOG_LEVEL": "WARNING", "AETHEX_DATA_DIR": f"/tmp/{ns}",
           "AETHEX_CHAT_RATE_LIMIT": "none",
           "AETHEX_WS_COALESCE_MS": str(args.coalesce_ms), "AETHEX_WS_MAX_QUEUE": "100000"}
    if not args.embedded:
        env.update(AETHEX_DATABASE_URL=DATABASE_URL, AETHEX_RABBITMQ_URL=RABBITMQ_URL,
                   AETHEX_REDIS_URL=REDIS_URL)
    procs = start_topology(env, port, args.topology)
    clients: list[asyncio.subprocess.Process] = []
    senders: list[ClientConnection] = []
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
        viewers, first = args.viewers * args.rooms, 0
        for p in range(args.procs):
            count = viewers // args.procs + (p < viewers % args.procs)
            clients.append(await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--viewers-proc", ws_url, ",".join(streams),
                str(first), str(count), str(total), str(args.rate), str(args.senders),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE))
            first += count
        for c in clients:
            assert c.stdout is not None
            assert (await c.stdout.readline()).strip() == b"ready"

        senders = [await connect(f"{ws_url}/ws/chat?token={tokens[i % len(tokens)]}")
                   for i in range(args.senders)]
        for k, ws in enumerate(senders):
            await ws.send(json.dumps({"event": "chat:join",
                                      "data": {"streamId": streams[k % args.rooms]}}))
        send_errors = [0]
        drains = [asyncio.create_task(_drain(ws, send_errors)) for ws in senders]
        await asyncio.sleep(0.5)

        schedule = Schedule(args.rate, time.time() + 0.5)  # the viewers hear t0 in time
        for c in clients:
            assert c.stdin is not None
            c.stdin.write(f"go {schedule.t0!r}\n".encode())
            await c.stdin.drain()
        lag = Histogram()
        for i in range(total):
            lag.add(await schedule.wait(i))
            await senders[i % args.senders].send(json.dumps(
                {"event": "chat:send", "data": {"content": f"{i} chat"}}))
        # Whatever is still on its way has --drain seconds from the last send to arrive.
        await asyncio.sleep(args.drain)
        parts, latency = [], Histogram()
        closed_early: dict[str, int] = {}
        for c in clients:
            assert c.stdin is not None
            c.stdin.write(b"stop\n")
            await c.stdin.drain()
        for c in clients:
            out, _ = await c.communicate()
            summary = json.loads(out.decode().strip().splitlines()[-1])
            parts.append(summary["counts"])
            for code, n in summary["closed_early"].items():
                closed_early[code] = closed_early.get(code, 0) + n
            latency.merge(Histogram.from_json(summary["latency"]))
        for d in drains:
            d.cancel()
        counts = merge_counts(parts)
        return {"sent": total, "counts": counts, "lag": lag, "latency": latency,
                "closed_early": closed_early, "send_errors": send_errors[0],
                "delivered_per_s": counts["delivered"] / args.seconds}
    finally:
        for ws in senders:
            await ws.close()
        for c in clients:
            if c.returncode is None:
                c.kill()
        stop_topology(procs)
        if not args.embedded:
            drop(ns)


async def _drain(ws: ClientConnection, errors: list[int]) -> None:
    """Reads what the senders' own sockets receive; counts refused sends."""
    async for frame in ws:
        if '"chat:error"' in frame:
            errors[0] += 1


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--viewers-proc":
        _, _, ws_url, streams, first, count, total, rate, senders = sys.argv
        import uvloop

        uvloop.run(viewers_main(ws_url, streams.split(","), int(first), int(count),
                                int(total), float(rate), int(senders)))
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
    p.add_argument("--drain", type=float, default=5,
                   help="seconds viewers go on watching after the last send")
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
          f"{args.rate:g} msg/s due for {args.seconds:g} s (open loop) from {args.senders} "
          f"sender sockets, coalescing {args.coalesce_ms:g} ms, drain {args.drain:g} s")
    print(f"sent {r['sent']:,} ({r['send_errors']} refused); {counts_line(r['counts'])}; "
          f"{closed_line(r['closed_early'])}; {r['delivered_per_s']:,.0f} deliveries/s")
    print(lag_line(r["lag"]))
    print(f"latency due -> frame, every message at every viewer: {r['latency'].summary()}")


if __name__ == "__main__":
    main()
