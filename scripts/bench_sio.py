"""Chat over Socket.IO: our production topology against the plan-style baseline, one run.

The same load generator drives, alternating rate by rate in one run, our production
topology (API node, relay and projectors in their own processes on PostgreSQL, RabbitMQ
and Redis, started as scripts/bench_chat.py does; rate limit off) and
scripts/baseline_sio_server.py (python-socketio, one INSERT per message, then emit to the
room). Each run gets a fresh room.

Senders: --senders signed-in WebSocket clients (aiohttp, uvloop, spread over
--sender-procs processes) speaking Engine.IO 4 / Socket.IO 5 by hand, as the viewers do,
each joined to the room: they skip the room's messages unread and find each ack by its id
with a regex, decoding only an error's JSON, so the generator stays cheap at high rates
(a python-socketio client decodes every room message it is sent). The timing is
open-loop: message i is due at t0 + i/rate, fixed in advance; its latency is (received -
due), so a sender that falls behind shows in the latency, and how far it fell behind
(emit - due) is printed too. The content is "m<i>", so receivers look the due time up in
the schedule; no clock travels in the message. Sends are pipelined (no waiting for acks);
ack errors, and messages never acknowledged, are counted.

Viewers: raw WebSocket clients (asyncio protocols under uvloop, no coroutine per frame:
scripts/raw_viewers.py; in --procs processes) speaking
Engine.IO 4 / Socket.IO 5 by hand (or our plain /ws/streams/{id} with --transport ws,
ours only: the baseline speaks Socket.IO only, so it always runs over sio). Every viewer is
timed: the message number (and position) is read from the frame text with a regex, without
decoding the JSON. Each viewer counts by message number: delivered, lost, doubled, out of
order (a message arriving after a later one from the same sender) and position inversions
(arriving after a message with a higher position). Viewers stop at a deadline, --drain
seconds after the last message was due, never at an expected count.

  scripts/bench-sio --rates 200,500,1000 --seconds 10              # both targets, sio
  scripts/bench-sio --rates 200,500,1000 --transport both          # and ours over /ws
  scripts/bench-sio --viewers 1000 --rates 100 --transport both    # one big room
  scripts/bench-sio --target baseline --rates 2000,4000 --json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

if TYPE_CHECKING:
    import aiohttp

from scripts.bench import drop, start_topology, stop_topology, wait_ready  # noqa: E402
from scripts.raw_viewers import viewers_main  # noqa: E402

DATABASE_URL = os.environ.get("AETHEX_BENCH_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("AETHEX_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("AETHEX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
GOAL_P99_MS = 100.0  # "sustained": everything delivered once and p99 below this
BUCKETS_PER_S = 10_000  # latency histogram resolution: 0.1 ms
_CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- viewers: scripts/raw_viewers.py (asyncio protocols, no coroutine per frame) ------


# -- senders: a few processes of cheap connections, open-loop --------------------------

# An acknowledgement's prefix: 43, its id, the bracket opening its arguments. Past that only
# the text "ok":true is looked for; an error's JSON is decoded for its code, the rare case.
_ACK = re.compile(r"43(\d+)\[")


@dataclass
class _SenderLink:
    """One signed-in sender's connection and what its reader saw."""

    ws: aiohttp.ClientWebSocketResponse
    closed: bool = False  # the server closed it (or it broke) before the end


def _ack_error(payload: str) -> str:
    """The code of an error acknowledgement `[{...}]` (what python-socketio's callback got
    as its first argument, as the old sender counted it: "None" for no argument)."""
    try:
        args = json.loads(payload)
    except ValueError:
        return "undecodable"
    answer = args[0] if isinstance(args, list) and args else None
    return str(answer.get("code") if isinstance(answer, dict) else answer)


async def senders_main(base: str, stream: str, tokens: list[str], rate: float, total: int,
                       drain: float, proc: int, procs: int) -> None:
    """Connects this process's share of the senders (sender s belongs to process
    s % procs; an empty token signs in anonymously), joins them to the room, prints
    "ready", reads t0 from stdin, sends each of its messages i (those with i % senders
    among its own) at t0 + i/rate through sender i % senders without waiting for acks,
    and prints one JSON summary line.

    Each sender speaks Engine.IO 4 / Socket.IO 5 by hand, as the viewers do: a
    python-socketio client decodes every room message it is sent (every sender is in the
    room), which made the generator, not the server, the limit at high rates. Message i
    goes out with ack id i + 1 (the join has id 0), so an ack names its message without a
    table per connection."""
    import aiohttp

    width = len(tokens)
    mine = [s for s in range(width) if s % procs == proc]
    url = base.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    join = '420["chat:join",' + json.dumps({"streamId": stream}, separators=(",", ":")) + "]"
    acked = bytearray(total)  # by message number: first acks count, repeats are strays
    ack_latency = array("d")
    errors: Counter[str] = Counter()
    strays = [0]  # acks for no message of ours, or a second one for the same message
    # This process's messages in order: i % width picks the sender, and sender s is the
    # (s // procs)-th of this process's.
    schedule = [i for i in range(total) if i % width % procs == proc]
    expected = len(schedule)
    all_acked = asyncio.Event()
    if not expected:
        all_acked.set()
    clock = time.monotonic
    t0 = 0.0  # set before the first message goes out; acks only come after that

    async def open_one(session: aiohttp.ClientSession, token: str) -> _SenderLink:
        ws = await session.ws_connect(url, autoping=True, compress=0, max_msg_size=0)
        opened = await ws.receive_str()
        if not opened.startswith("0{"):
            raise RuntimeError(f"no Engine.IO open packet: {opened!r}")
        await ws.send_str("40" + json.dumps({"token": token}, separators=(",", ":"))
                          if token else "40")
        answer = await ws.receive_str()
        if not answer.startswith("40"):
            raise RuntimeError(f"sign-in refused: {answer!r}")
        await ws.send_str(join)
        while not (text := await ws.receive_str()).startswith("430"):
            if text == "2":
                await ws.send_str("3")
        if '"ok":true' not in text:
            raise RuntimeError(f"join refused: {text!r}")
        return _SenderLink(ws)

    async def read(link: _SenderLink) -> None:
        """Counts acks by id and answers pings; everything else (the room's messages,
        mostly) is skipped on its first two characters, never decoded."""
        receive, match = link.ws.receive, _ACK.match
        while True:
            msg = await receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                link.closed = True
                return
            text: str = msg.data
            if text.startswith("42"):
                continue
            if text == "2":  # Engine.IO ping: unanswered, the server would drop us
                await link.ws.send_str("3")
                continue
            m = match(text)
            if m is None:
                continue
            i = int(m[1]) - 1
            if not 0 <= i < total or acked[i]:
                strays[0] += 1
                continue
            acked[i] = 1
            ack_latency.append(clock() - (t0 + i / rate))
            if '"ok":true' not in text:
                errors[_ack_error(text[m.end() - 1:])] += 1
            if len(ack_latency) == expected:
                all_acked.set()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        links = [await open_one(session, tokens[s]) for s in mine]
        readers = [asyncio.create_task(read(link)) for link in links]
        print("ready", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        t0 = float(line)
        lags = array("d")
        sends = [link.ws.send_str for link in links]
        unsent: Counter[str] = Counter()
        cpu0 = time.process_time()
        k, sent, last_emit = 0, 0, t0
        while k < len(schedule):
            now = clock()
            due = t0 + schedule[k] / rate
            if due > now:
                # uvloop's timers count whole milliseconds: a shorter sleep returns at once,
                # and waiting out the last fraction that way spun the loop ~10 times per
                # message. So at least 1 ms, and whatever fell due meanwhile goes together.
                await asyncio.sleep(max(due - now, 0.001))
                continue
            # Everything due by now goes out in one go (a few per timer tick at high
            # rates), yielding now and then so the readers keep up with acks and pings.
            burst = 0
            while k < len(schedule) and burst < 64:
                i = schedule[k]
                due = t0 + i / rate
                if due > now:
                    break
                try:
                    await sends[i % width // procs](
                        f'42{i + 1}["chat:send",{{"content":"m{i}"}}]')
                except ConnectionError as e:
                    # A closed connection: the message is sent as far as the schedule goes,
                    # and stays unanswered, so the run shows it.
                    unsent[type(e).__name__] += 1
                last_emit = clock()
                lags.append(last_emit - due)
                k += 1
                sent += 1
                burst += 1
            if burst == 64:
                await asyncio.sleep(0)
        deadline = t0 + (total - 1) / rate + drain + 1
        with contextlib.suppress(TimeoutError):  # missing acks are counted, not waited for
            await asyncio.wait_for(all_acked.wait(), max(0.1, deadline - clock()))
        cpu = time.process_time() - cpu0
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for link in links:
            await link.ws.close()
    # Raw samples, so the parent's quantiles over every process are exact.
    print(json.dumps({
        "sent": sent, "last_emit_s": last_emit - t0 if sent else 0.0,
        "lags": base64.b64encode(lags.tobytes()).decode(),
        "acks": len(ack_latency), "ack_errors": dict(errors),
        "ack_latency": base64.b64encode(ack_latency.tobytes()).decode(),
        "ack_strays": strays[0], "unsent": dict(unsent),
        "closed": sum(link.closed for link in links), "cpu_s": cpu}), flush=True)


def merge_senders(outs: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    """One summary of every sender process's (their quantiles over all the samples)."""
    lags, acks = array("d"), array("d")
    errors: Counter[str] = Counter()
    unsent: Counter[str] = Counter()
    for out in outs:
        lags.frombytes(base64.b64decode(out["lags"]))
        acks.frombytes(base64.b64decode(out["ack_latency"]))
        errors.update(out["ack_errors"])
        unsent.update(out["unsent"])
    sorted_lags, sorted_acks = sorted(lags), sorted(acks)
    sent = sum(out["sent"] for out in outs)
    return {
        "sent": sent,
        "send_s": max((out["last_emit_s"] for out in outs if out["sent"]), default=0.0)
        + 1 / rate,
        "lag_p99_s": _pick(sorted_lags, 0.99), "lag_max_s": sorted_lags[-1] if lags else 0.0,
        "acks": sum(out["acks"] for out in outs), "ack_errors": dict(errors),
        "ack_p50_s": _pick(sorted_acks, 0.50), "ack_p99_s": _pick(sorted_acks, 0.99),
        "ack_strays": sum(out["ack_strays"] for out in outs), "unsent": dict(unsent),
        "closed": sum(out["closed"] for out in outs),
        "cpu_s": sum(out["cpu_s"] for out in outs),
        "cpu_s_per_proc": [round(out["cpu_s"], 3) for out in outs]}


def _pick(values: Any, q: float) -> float:
    """The q-quantile of sorted values (nearest rank); 0 for none."""
    if not len(values):
        return 0.0
    return values[min(len(values) - 1, max(0, int(len(values) * q + 0.5) - 1))]


# -- the servers -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used (0 for one that is gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _CLK_TCK


def _cpu_by_name(names: tuple[str, ...]) -> float:
    """CPU seconds of every process on the machine with one of these command names."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in names:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return _cpu_s(pids)


def _machine_busy_s() -> float:
    """CPU seconds all cores have spent busy (not idle, not waiting for I/O) since boot."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / _CLK_TCK


def _settle(pids: list[int], limit_s: float = 60) -> float:
    """Waits until the processes are idle (under 5% of a core over 0.5 s), so a backlog
    left by one run does not land on the next; returns how long that took."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        before = _cpu_s(pids)
        time.sleep(0.5)
        if _cpu_s(pids) - before < 0.025:
            break
    return time.monotonic() - start


@dataclass
class Target:
    name: str
    base: str
    procs: list[subprocess.Popen[bytes]]
    roles: list[str]
    tokens: list[str]
    owner: str = ""
    rooms: int = 0

    async def new_room(self) -> str:
        """A fresh room per run: nothing from an earlier run can reach its viewers."""
        self.rooms += 1
        if self.name == "baseline":
            return str(uuid.uuid4())
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            headers = {"Authorization": f"Bearer {self.owner}"}
            r = await http.post("/api/channels", headers=headers, json={
                "slug": f"sio-bench-{self.rooms}", "name": "Socket.IO bench"})
            r.raise_for_status()
            r = await http.post(f"/api/streams/{r.json()['id']}/start", json={},
                                headers=headers)
            r.raise_for_status()
            stream = r.json()
            await http.get(f"/api/streams/{stream['id']}", params={"after": stream["position"]})
            return stream["id"]


def start_baseline(schema: str, senders: int) -> Target:
    """scripts/baseline_sio_server.py on a free port, answering Engine.IO handshakes."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "baseline_sio_server.py"),
                             "--port", str(port), "--schema", schema,
                             "--database-url", DATABASE_URL], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/socket.io/?EIO=4&transport=polling",
                         timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the baseline server did not start")
        time.sleep(0.2)
    return Target("baseline", base, [proc], ["baseline"],
                  [f"bencher{k}" for k in range(senders)])


async def start_ours(ns: str, senders: int, coalesce_ms: float) -> Target:
    """Our production topology, as scripts/bench_chat.py runs it, with signed-in senders."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AETHEX_NAMESPACE": ns, "AETHEX_JWT_SECRET": "bench-" + "k" * 32,
           "AETHEX_WEBHOOK_SECRET_KEY": "bench-" + "k" * 32,
           "AETHEX_LOG_LEVEL": "WARNING", "AETHEX_DATA_DIR": f"/tmp/{ns}",
           "AETHEX_CHAT_RATE_LIMIT": "none", "AETHEX_WS_MAX_QUEUE": "100000",
           "AETHEX_WS_COALESCE_MS": f"{coalesce_ms:g}",
           "AETHEX_DATABASE_URL": DATABASE_URL, "AETHEX_RABBITMQ_URL": RABBITMQ_URL,
           "AETHEX_REDIS_URL": REDIS_URL}
    procs = start_topology(env, port, "compose")
    target = Target("ours", base, procs, ["api", "relay", "projectors"], [])
    try:
        await asyncio.to_thread(wait_ready, base, procs)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for k in range(senders + 1):
                r = await http.post("/api/auth/register", json={
                    "email": f"sio{k}@example.com", "username": f"siobench{k}",
                    "password": "correct horse"})
                r.raise_for_status()
                target.tokens.append(r.json()["token"])
        target.owner = target.tokens.pop()
    except BaseException:
        stop_topology(procs)
        raise
    return target


async def _drop_amqp(ns: str) -> None:
    """Removes our topology's durable RabbitMQ queues and exchanges of this namespace (as
    the test harness does), so runs leave nothing behind on a shared broker."""
    import aio_pika

    from projections.registry import all_projections

    try:
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            for name in [*(p.name for p in all_projections()), "counter"]:
                await channel.queue_delete(f"{ns}.projector.{name}")
            for exchange in ("events", "live"):
                await channel.exchange_delete(f"{ns}.{exchange}")
    except Exception as e:  # the figures are already printed: say so, do not fail the run
        print(f"bench_sio: could not remove RabbitMQ queues of {ns}: {e!r}", file=sys.stderr)


# -- one run ---------------------------------------------------------------------------


async def one_run(target: Target, transport: str, rate: float, args: argparse.Namespace
                  ) -> dict[str, Any]:
    stream = await target.new_room()
    total = int(rate * args.seconds)
    procs = max(1, min(args.procs, args.viewers))
    shares = [args.viewers // procs + (k < args.viewers % procs) for k in range(procs)]
    me = str(Path(__file__).resolve())
    children: list[asyncio.subprocess.Process] = []
    try:
        for share in shares:
            children.append(await asyncio.create_subprocess_exec(
                sys.executable, me, "--viewers-proc", target.base, transport, stream,
                str(share), str(args.senders), repr(rate), str(total), repr(args.drain),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                limit=2**26))  # a summary line holds a latency histogram
        sender_procs = max(1, min(args.sender_procs, len(target.tokens)))
        for proc in range(sender_procs):
            children.append(await asyncio.create_subprocess_exec(
                sys.executable, me, "--senders-proc", target.base, stream,
                ",".join(target.tokens), repr(rate), str(total), repr(args.drain),
                str(proc), str(sender_procs),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                limit=2**26))  # a summary line holds every lag and ack latency
        for child in children:
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), 120)
            if line.strip() != b"ready":
                raise RuntimeError(f"a load generator process did not start: {line!r}")
        pids = [p.pid for p in target.procs]
        cpu0 = [_cpu_s([pid]) for pid in pids]
        services0 = {k: _cpu_by_name(v) for k, v in _SERVICES.items()}
        busy0 = _machine_busy_s()
        t0 = time.monotonic() + 0.5  # every child has read it before the first message is due
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{t0!r}\n".encode())
            await child.stdin.drain()
        outs = []
        for child in children:
            assert child.stdout is not None
            outs.append(json.loads(await child.stdout.readline()))
            await child.wait()
        server_cpu = {role: _cpu_s([pid]) - c for role, pid, c in
                      zip(target.roles, pids, cpu0, strict=True)}
        services_cpu = {k: _cpu_by_name(v) - services0[k] for k, v in _SERVICES.items()}
        busy = _machine_busy_s() - busy0
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
    views, sent = outs[:procs], merge_senders(outs[procs:], rate)
    hist: Counter[int] = Counter()
    for v in views:
        hist.update({int(k): n for k, n in v["hist"].items()})
    delivered = sum(v["delivered"] for v in views)
    return {
        "target": target.name, "transport": transport, "offered": rate,
        "seconds": args.seconds, "viewers": args.viewers, "senders": args.senders,
        "sent": sent["sent"], "achieved": sent["sent"] / sent["send_s"] if sent["sent"] else 0,
        "lag_p99_ms": sent["lag_p99_s"] * 1000, "lag_max_ms": sent["lag_max_s"] * 1000,
        "acks": sent["acks"], "ack_errors": sent["ack_errors"],
        "ack_strays": sent["ack_strays"], "unsent": sum(sent["unsent"].values()),
        "senders_closed": sent["closed"], "sender_procs": sender_procs,
        "ack_p50_ms": sent["ack_p50_s"] * 1000, "ack_p99_ms": sent["ack_p99_s"] * 1000,
        "expected": sent["sent"] * args.viewers, "delivered": delivered,
        "fewest": min(v["fewest"] for v in views),
        **{k: sum(v[k] for v in views) for k in
           ("lost", "doubled", "out_of_order", "inversions", "stray", "dropped", "unjoined",
            "join_retries")},
        "samples": sum(hist.values()),
        "p50_ms": _hist_pick(hist, 0.50), "p99_ms": _hist_pick(hist, 0.99),
        "max_ms": max(v["max_s"] for v in views) * 1000,
        "cpu_s": {**{k: round(v, 2) for k, v in server_cpu.items()},
                  **{f"{k} (machine)": round(v, 2) for k, v in services_cpu.items()},
                  "senders": round(sent["cpu_s"], 2),
                  "viewers": round(sum(v["cpu_s"] for v in views), 2),
                  # Everything else the machine did meanwhile: other people's work, mostly.
                  "rest of the machine": round(busy - sum(server_cpu.values())
                                               - sum(services_cpu.values()) - sent["cpu_s"]
                                               - sum(v["cpu_s"] for v in views), 2)},
    }


_SERVICES = {"postgres": ("postgres",), "rabbitmq": ("beam.smp",),
             "redis": ("redis-server",)}


def _hist_pick(hist: Counter[int], q: float) -> float:
    """The q-quantile in ms, as the upper edge of its 0.1 ms bucket (nan for no samples)."""
    n = sum(hist.values())
    if not n:
        return float("nan")
    rank, seen = max(1, int(n * q + 0.5)), 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return (bucket + 1) * 1000 / BUCKETS_PER_S
    raise AssertionError("unreachable")


def sustained(r: dict[str, Any]) -> bool:
    """Everything sent was stored and reached every viewer exactly once, p99 under goal."""
    return (r["sent"] > 0 and r["acks"] == r["sent"] and not r["ack_errors"]
            and r["delivered"] == r["expected"] and r["lost"] == 0 and r["doubled"] == 0
            and r["p99_ms"] < GOAL_P99_MS)


HEADER = ("| target | viewers via | offered msg/s | sent msg/s | sender lag p99 / max ms "
          "| ack p50 / p99 ms (errors, unanswered) | delivered / expected | lost | doubled "
          "| out of order | position inversions | latency p50 / p99 / max ms (n) |")


def row(r: dict[str, Any]) -> str:
    errors = sum(r["ack_errors"].values())
    share = r["delivered"] / r["expected"] * 100 if r["expected"] else 0.0
    notes = [f"{r[k]} {what}" for k, what in (
        ("dropped", "viewers cut off"), ("unjoined", "viewers never joined"),
        ("stray", "unscheduled numbers"), ("senders_closed", "senders cut off"),
        ("unsent", "sends on a closed sender"), ("ack_strays", "acks for no message")
    ) if r.get(k)]
    dropped = "".join(f", {n}" for n in notes)
    return (f"| {r['target']} | {r['transport']} | {r['offered']:g} | {r['achieved']:,.0f} "
            f"| {r['lag_p99_ms']:.1f} / {r['lag_max_ms']:.1f} "
            f"| {r['ack_p50_ms']:.1f} / {r['ack_p99_ms']:.1f} ({errors}, {r['sent'] - r['acks']}) "
            f"| {r['delivered']:,} / {r['expected']:,} ({share:.1f} %){dropped} "
            f"| {r['lost']:,} | {r['doubled']:,} | {r['out_of_order']:,} | {r['inversions']:,} "
            f"| {r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} ({r['samples']:,}) |")


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest offered rate each target x transport sustains, and ours / baseline."""
    best: dict[str, Any] = {}
    for key in dict.fromkeys(f"{r['target']}/{r['transport']}" for r in results):
        runs = [r for r in results if f"{r['target']}/{r['transport']}" == key]
        ok = [r["offered"] for r in runs if sustained(r)]
        top = max(r["offered"] for r in runs)
        best[key] = {"sustained": max(ok) if ok else None,
                     "at_highest_tried": bool(ok) and max(ok) == top}
    ratios: dict[str, str] = {}
    base = best.get("baseline/sio")
    for key in ("ours/sio", "ours/ws"):
        if key in best and base is not None:
            ratios[key + " : baseline/sio"] = _ratio(best[key], base)
    return {"sustained": best, "ratios": ratios}


def _ratio(ours: dict[str, Any], base: dict[str, Any]) -> str:
    a, b = ours["sustained"], base["sustained"]
    if b is None:
        return "n/a (the baseline sustained none of the rates tried)"
    if a is None:
        return f"< 1 (ours sustained none of the rates tried; the baseline {b:g} msg/s)"
    if ours["at_highest_tried"] and base["at_highest_tried"]:
        return "unknown (both sustain the highest rate tried)"
    prefix = ">= " if ours["at_highest_tried"] else "<= " if base["at_highest_tried"] else ""
    return f"{prefix}{a / b:.2f}x"


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def run(args: argparse.Namespace, say: Any) -> dict[str, Any]:
    targets = ["baseline", "ours"] if args.target == "both" else [args.target]
    ours_via = ["sio", "ws"] if args.transport == "both" else [args.transport]
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    say(f"# Socket.IO chat, {started}, commit {_commit()}, {os.cpu_count()} cores: "
        f"1 room x {args.viewers} viewers ({args.procs} processes), {args.senders} senders "
        f"({args.sender_procs} processes), "
        f"{args.seconds:g} s per rate, drain {args.drain:g} s, ours coalescing "
        f"{args.coalesce_ms:g} ms; load average {os.getloadavg()[0]:.2f}")
    say("# latency = viewer receive - scheduled send (open loop), every viewer timed; "
        f"sustained = all delivered once, no ack errors, p99 < {GOAL_P99_MS:g} ms")
    ns = f"benchsio_{os.getpid()}"
    schema = f"{ns}_baseline"
    servers: dict[str, Target] = {}
    results: list[dict[str, Any]] = []
    try:
        if "baseline" in targets:
            servers["baseline"] = start_baseline(schema, args.senders)
        if "ours" in targets:
            servers["ours"] = await start_ours(ns, args.senders, args.coalesce_ms)
        say(HEADER)
        say("|" + " --- |" * HEADER.count(" | ") + " --- |")
        for rate in args.rates:
            for name in targets:
                for transport in (ours_via if name == "ours" else ["sio"]):
                    idle = await asyncio.to_thread(_settle, [p.pid for p in servers[name].procs])
                    r = await one_run(servers[name], transport, rate, args)
                    r["settle_s"] = round(idle, 1)  # the wait for the server to go idle first
                    r["loadavg_1m"] = round(os.getloadavg()[0], 2)  # others on the machine
                    results.append(r)
                    say(row(r))
                    say("  cpu s: " + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_s"].items())
                        + f"; load average {r['loadavg_1m']:.2f}")
    finally:
        for target in servers.values():
            stop_topology(target.procs)
        if "ours" in servers:
            drop(ns)
            await _drop_amqp(ns)
        if "baseline" in servers:
            drop(schema)  # the server drops it at shutdown; this covers a crashed one
    summary = summarise(results)
    for key, s in summary["sustained"].items():
        top = s["sustained"]
        say(f"sustained {key}: " + (f"{top:g} msg/s" + (" (the highest tried)"
                                                          if s["at_highest_tried"] else "")
                                     if top is not None else "none of the rates tried"))
    for key, value in summary["ratios"].items():
        say(f"ratio {key}: {value}")
    return {"started": started, "commit": _commit(), "cores": os.cpu_count(),
            "args": {k: v for k, v in vars(args).items() if k != "json"},
            "runs": results, **summary}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("--viewers-proc", "--senders-proc"):
        import uvloop

        if sys.argv[1] == "--viewers-proc":
            base, transport, stream, count, senders, rate, total, drain = sys.argv[2:]
            uvloop.run(viewers_main(base, transport, stream, int(count), int(senders),
                                    float(rate), int(total), float(drain)))
        else:
            base, stream, tokens, rate, total, drain, proc, procs = sys.argv[2:]
            uvloop.run(senders_main(base, stream, tokens.split(","), float(rate), int(total),
                                    float(drain), int(proc), int(procs)))
        return
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", choices=["ours", "baseline", "both"], default="both")
    p.add_argument("--transport", choices=["sio", "ws", "both"], default="sio",
                   help="how our viewers connect (ws: /ws/streams/{id}); senders always use "
                        "Socket.IO, and the baseline speaks nothing else")
    p.add_argument("--rates", default="200,500,1000,2000,4000",
                   help="offered messages/s, comma-separated, each run in turn on every target")
    p.add_argument("--viewers", type=int, default=20, help="viewers in the room")
    p.add_argument("--senders", type=int, default=10, help="signed-in Socket.IO senders")
    p.add_argument("--seconds", type=float, default=10, help="sending time per run")
    p.add_argument("--drain", type=float, default=3,
                   help="viewers stop this long after the last message was due")
    p.add_argument("--procs", type=int, default=2, help="viewer client processes")
    p.add_argument("--sender-procs", type=int, default=2,
                   help="sender processes (the senders are spread over them)")
    p.add_argument("--coalesce-ms", type=float, default=10, help="ours: AETHEX_WS_COALESCE_MS")
    p.add_argument("--json", action="store_true",
                   help="print one JSON document on stdout (the table goes to stderr)")
    args = p.parse_args()
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if args.json else (
        lambda s: print(s, flush=True))
    out = asyncio.run(run(args, say))
    if args.json:
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
