"""Webhook benchmark: chat at --rate messages/s on one channel with --subscriptions
webhook subscriptions to `chat.message.sent`, against the same chat without them, in one
run, on the production topology (`aethex serve`, `relay`, `project` and, in the second
phase, `aethex webhooks`, each a process; PostgreSQL, RabbitMQ, Redis).

For each phase: chat's own figures (HTTP send latency from each message's scheduled time,
open loop, and the delay until a /ws viewer gets it); for the webhook phase also
deliveries per second at the receiver and event -> delivery latency (the event's stored
time to its arrival), p50/p99, what was still undelivered at the end, and the CPU time
the sender and the receiver used while the chat ran. The receiver is a process of its own
(aiohttp) that checks one delivery in 100 with `standardwebhooks`. Once the deliveries
are drained (or `--drain` is over) the sender is stopped and the chat runs a third time
without webhooks: the two phases without them show how much this machine's figures move
on their own.

The receiver stands for other machines, but here it shares the cores: `--receiver-cpu
idle` runs it as the sender runs by default (a session and scheduling group of its own,
niced, and SCHED_IDLE), so that what chat loses is the sender's doing, not the
receiver's (`normal`, the default, counts both).

  scripts/bench-webhooks                       # 100 subscriptions, 500 msg/s, 10 s
  scripts/bench-webhooks --subscriptions 20 --rate 200 --seconds 5
  scripts/bench-webhooks --sender-cpu normal --receiver-cpu idle
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from scripts.bench import (  # noqa: E402
    DATABASE_URL,
    RABBITMQ_URL,
    Histogram,
    drop,
    start_topology,
    stop_topology,
    wait_ready,
)

REDIS_URL = os.environ.get("AETHEX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def pct(h: Histogram, q: float) -> float:
    return h.quantile_ms(q) if h.n else float("nan")


# -- the receiver process ---------------------------------------------------------------

def receiver_main(port: int, cpu: str) -> None:
    from standardwebhooks.webhooks import Webhook

    if cpu == "idle":  # before any thread starts: they inherit it
        from infra.runtime.cpu import own_scheduling_group

        own_scheduling_group("idle")
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))

    secrets: dict[str, Webhook] = {}
    state: dict[str, Any] = {"n": 0, "bad": 0, "checked": 0, "latency": Histogram(),
                             "first": None, "last": None, "ids": set()}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        state["n"] += 1
        state["first"] = state["first"] or now
        state["last"] = now
        state["ids"].add(request.headers["webhook-id"])
        if state["n"] % 100 == 1:  # the library's check on a sample: it costs as much as us
            state["checked"] += 1
            try:
                secrets[request.path].verify(body, dict(request.headers))
            except Exception:
                state["bad"] += 1
        stamp = body[body.index(b'"timestamp":"') + 13:]
        stamp = stamp[:stamp.index(b'"')]
        state["latency"].add(now - datetime.fromisoformat(stamp.decode()).timestamp())
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/{name}", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if not line:
                return
            command = json.loads(line)
            if "secrets" in command:
                secrets.update({p: Webhook(s) for p, s in command["secrets"].items()})
            else:
                h: Histogram = state["latency"]
                span = (state["last"] or 0) - (state["first"] or 0)
                print(json.dumps({"n": state["n"], "unique": len(state["ids"]),
                                  "bad": state["bad"], "checked": state["checked"],
                                  "per_s": state["n"] / span if span > 0 else 0.0,
                                  "p50": pct(h, 0.5), "p99": pct(h, 0.99)}), flush=True)
            print("ok", flush=True) if "secrets" in command else None

    asyncio.run(main())


# -- chat load --------------------------------------------------------------------------

async def chat_phase(base: str, ws_url: str, stream_id: str, token: str, rate: float,
                     seconds: float, tag: str) -> dict[str, Any]:
    """Open-loop sends over HTTP, timed from their schedule, and one /ws viewer."""
    total = int(rate * seconds)
    send, view = Histogram(), Histogram()
    errors, seen = [0], set()
    t0 = time.monotonic() + 0.5
    headers = {"Authorization": f"Bearer {token}"}

    async def viewer(session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(f"{ws_url}/ws/streams/{stream_id}") as ws:
            ready.set()
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                now = time.monotonic()
                for part in msg.data.split(f"{tag} ")[1:]:
                    i = int(part.split('"', 1)[0].split(" ", 1)[0])
                    if i not in seen:
                        seen.add(i)
                        view.add(now - (t0 + i / rate))
                if len(seen) >= total:
                    return

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        async with session.post(f"{base}/api/streams/{stream_id}/messages",
                                json={"content": f"{tag} {i}"}, headers=headers) as r:
            await r.read()
            if r.status != 201:
                errors[0] += 1
        send.add(time.monotonic() - (t0 + i / rate))

    ready = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        watching = asyncio.ensure_future(viewer(session))
        await ready.wait()
        tasks = []
        for i in range(total):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(session, i)))
        await asyncio.gather(*tasks)
        try:
            await asyncio.wait_for(watching, 10)
        except TimeoutError:
            watching.cancel()
    return {"sent": total, "errors": errors[0], "viewer_got": len(seen),
            "send_p50": pct(send, 0.5), "send_p99": pct(send, 0.99),
            "view_p50": pct(view, 0.5), "view_p99": pct(view, 0.99)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    ns = f"benchhooks_{os.getpid()}"
    port, rport = 19500 + os.getpid() % 400, 19950 + os.getpid() % 40
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    env = {**os.environ, "AETHEX_NAMESPACE": ns, "AETHEX_JWT_SECRET": "bench-" + "k" * 32,
           "AETHEX_WEBHOOK_SECRET_KEY": "bench-" + "k" * 32, "AETHEX_LOG_LEVEL": "WARNING",
           "AETHEX_DATA_DIR": f"/tmp/{ns}", "AETHEX_CHAT_RATE_LIMIT": "none",
           "AETHEX_DATABASE_URL": DATABASE_URL, "AETHEX_RABBITMQ_URL": RABBITMQ_URL,
           "AETHEX_REDIS_URL": REDIS_URL, "AETHEX_WEBHOOK_ALLOW_PRIVATE": "1",
           "AETHEX_WEBHOOKS_PER_CHANNEL": str(max(20, args.subscriptions)),
           "AETHEX_WEBHOOK_CPU": args.sender_cpu,
           "AETHEX_WEBHOOK_CPU_SHARE": str(args.sender_cpu_share)}
    procs = start_topology(env, port, "compose")
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(rport),
                                 args.receiver_cpu],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    sender: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(base, procs)
        assert receiver.stdout is not None and receiver.stdin is not None
        assert receiver.stdout.readline().strip() == "ready"
        async with aiohttp.ClientSession() as http:
            r = await http.post(f"{base}/api/auth/register", json={
                "email": "hooks@example.com", "username": "hooks", "password": "correct horse"})
            token = (await r.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            r = await http.post(f"{base}/api/channels", json={"slug": "hooks", "name": "H"},
                                headers=headers)
            channel = (await r.json())["id"]
            r = await http.post(f"{base}/api/streams/{channel}/start", json={}, headers=headers)
            stream = (await r.json())["id"]
            await asyncio.sleep(1)
            pids = {"api": procs[0].pid, "relay": procs[1].pid, "project": procs[2].pid,
                    "receiver": receiver.pid}
            without = await measured(pids, chat_phase(base, ws_url, stream, token, args.rate,
                                                      args.seconds, "plain"))
            made: dict[str, str] = {}
            for i in range(args.subscriptions):
                r = await http.post(f"{base}/api/channels/{channel}/webhooks", json={
                    "url": f"http://127.0.0.1:{rport}/s{i}",
                    "eventTypes": ["chat.message.sent"]}, headers=headers)
                assert r.status == 201, await r.text()
                made[f"/s{i}"] = (await r.json())["secret"]
        receiver.stdin.write(json.dumps({"secrets": made}) + "\n")
        receiver.stdin.flush()
        assert receiver.stdout.readline().strip() == "ok"
        # At the CPU priority AETHEX_WEBHOOK_CPU gives it (--sender-cpu). The control
        # (--idle-burn) is no sender but a busy loop per core at SCHED_IDLE: what merely
        # using the cores chat leaves idle costs chat on this machine.
        sender = subprocess.Popen(
            [sys.executable, "-c", BURN, str(os.cpu_count() or 1)] if args.idle_burn else
            [sys.executable, "-m", "entrypoints.cli", "webhooks"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        await asyncio.sleep(3)  # its start-up is not what is measured
        started = time.monotonic()
        hooked = await measured({**pids, "sender": sender.pid}, chat_phase(
            base, ws_url, stream, token, args.rate, args.seconds, "hooked"))
        expected = int(args.rate * args.seconds) * args.subscriptions
        at_end = _report(receiver)
        deadline = time.monotonic() + args.drain
        drained = at_end
        while drained["unique"] < expected and time.monotonic() < deadline:
            await asyncio.sleep(1)
            drained = _report(receiver)
        drain_s = round(time.monotonic() - started - args.seconds, 1)
        sender.terminate()
        sender.wait(20)
        again = None
        if args.again:
            await asyncio.sleep(1)
            again = await measured(pids, chat_phase(base, ws_url, stream, token, args.rate,
                                                    args.seconds, "again"))
        return {"rate": args.rate, "seconds": args.seconds,
                "subscriptions": args.subscriptions, "sender_cpu": args.sender_cpu,
                "sender_cpu_share": args.sender_cpu_share,
                "receiver_cpu": args.receiver_cpu, "without": without, "with": hooked,
                "again": again,
                "expected_deliveries": expected, "at_end_of_chat": at_end,
                "after_drain": drained, "drain_s": drain_s}
    finally:
        if sender is not None:
            sender.terminate()
            sender.wait(20)
        if receiver.stdin is not None:
            receiver.stdin.close()
        receiver.wait(10)
        stop_topology(procs)
        drop(ns)


BURN = """
import os, sys
from infra.runtime.cpu import own_scheduling_group
own_scheduling_group("idle")
os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
parent = os.getpid()
for _ in range(int(sys.argv[1]) - 1):
    if os.fork() == 0:
        break
n = 0
while True:
    n += 1
    if n % 1000000 == 0 and os.getpid() != parent and os.getppid() != parent:
        os._exit(0)
"""


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVICES = {"postgres": "postgres", "beam.smp": "rabbitmq", "redis-server": "redis"}


def _cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far: of each named process, of the services' processes (summed by
    service), and of the whole machine (`busy`: every process, the other users' too)."""
    found = {name: _cpu_s(pid) for name, pid in pids.items()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        service = SERVICES.get(comm)
        if service is not None:
            found[service] = found.get(service, 0.0) + _cpu_s(int(entry.name))
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    found["busy"] = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    return found


async def measured(pids: dict[str, int], phase: Any) -> dict[str, Any]:
    """A chat phase's figures and the CPU seconds each part used while it ran."""
    before = _cpu_snapshot(pids)
    result = await phase
    after = _cpu_snapshot(pids)
    return {**result, "cpu_s": {k: round(after[k] - before.get(k, 0.0), 2) for k in after}}


def _report(receiver: subprocess.Popen[str]) -> dict[str, Any]:
    assert receiver.stdin is not None and receiver.stdout is not None
    receiver.stdin.write('{"report": true}\n')
    receiver.stdin.flush()
    return json.loads(receiver.stdout.readline())


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--receiver":
        receiver_main(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--drain", type=float, default=60,
                        help="seconds to wait after the chat for the deliveries to finish")
    parser.add_argument("--sender-cpu", choices=("idle", "low", "normal"), default="idle",
                        help="the sender's AETHEX_WEBHOOK_CPU (idle: SCHED_IDLE, low: nice "
                             "10, normal: as the other processes)")
    parser.add_argument("--sender-cpu-share", type=float, default=0.0,
                        help="the sender's AETHEX_WEBHOOK_CPU_SHARE (most of one core it "
                             "uses; 0: no cap)")
    parser.add_argument("--receiver-cpu", choices=("idle", "normal"), default="normal",
                        help="the receiver's scheduling (idle: SCHED_IDLE)")
    parser.add_argument("--idle-burn", action="store_true",
                        help="control: instead of the sender, busy loops at SCHED_IDLE")
    parser.add_argument("--no-again", dest="again", action="store_false",
                        help="skip the third phase (chat again, the sender stopped)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, indent=1))
        return
    a, b, c = result["without"], result["with"], result["again"]
    print(f"chat {args.rate:g} msg/s for {args.seconds:g} s, {args.subscriptions} "
          "subscriptions to chat.message.sent (second phase); sender "
          f"{args.sender_cpu} (share {args.sender_cpu_share:g}), receiver {args.receiver_cpu}")
    print(f"{'':24}{'no webhooks':>12}{'webhooks':>12}{'ratio':>7}"
          + (f"{'again, none':>13}{'ratio':>7}" if c else ""))
    for key, label in (("send_p50", "chat send p50 (ms)"), ("send_p99", "chat send p99 (ms)"),
                       ("view_p50", "chat viewer p50 (ms)"), ("view_p99", "chat viewer p99 (ms)")):
        line = f"{label:24}{a[key]:>12.1f}{b[key]:>12.1f}{b[key] / a[key]:>7.2f}"
        if c:
            line += f"{c[key]:>13.1f}{c[key] / a[key]:>7.2f}"
        print(line)
    print(f"{'send errors / viewer got':24}{a['errors']:>5}/{a['viewer_got']:<6}"
          f"{b['errors']:>5}/{b['viewer_got']:<6}"
          + (f"{c['errors']:>7}/{c['viewer_got']:<6}" if c else ""))
    for name, phase in (("no webhooks", a), ("webhooks", b), ("again, none", c)):
        if phase:
            print(f"CPU s during '{name}': " + ", ".join(
                f"{k} {v:.1f}" for k, v in phase["cpu_s"].items()))
    for key, label in (("at_end_of_chat", "when the chat stopped"),
                       ("after_drain", f"after {result['drain_s']:g} s more")):
        d = result[key]
        print(f"deliveries {label}: {d['unique']}/{result['expected_deliveries']} "
              f"({d['n'] - d['unique']} copies), {d['per_s']:.0f}/s at the receiver, "
              f"event -> delivery p50 {d['p50']:.0f} ms p99 {d['p99']:.0f} ms, "
              f"{d['bad']}/{d['checked']} sampled signatures failed")


if __name__ == "__main__":
    main()
