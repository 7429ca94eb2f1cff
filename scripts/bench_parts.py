"""What each part of the production topology costs per event on this machine: the event
store's writer (the group commit's save), the relay (log -> RabbitMQ) and one projector
(RabbitMQ -> chat_history), each in a process of its own as docker-compose.yml runs them.

The machine is shared, so wall-clock rates move with everyone else's work; CPU time per
event does much less. Each part is reported both ways: its rate while it had a backlog,
and the CPU seconds its process spent per event, whose inverse is what one core sustains
(`docs/scaling.md` and `scripts/simulate_day.py` build on these).

How: `aethex relay` and `aethex project chat_history` start on an empty log (both caught
up, the projector consuming from RabbitMQ); then this process writes N chat messages
through the group commit's batch handler (2,000 per transaction, as under load) as fast
as it can. The relay and the projector drain what arrives; each one's position is polled
every 20 ms, and each process's CPU time read from /proc at the start and the end.

Run: .venv/bin/python scripts/bench_parts.py [--events N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from commands.send_message import SendMessage, send_messages  # noqa: E402
from scripts.bench import (  # noqa: E402
    DATABASE_URL,
    RABBITMQ_URL,
    REDIS_URL,
    drop,
    live_stream,
    namespace,
    services_for,
)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its reaped children) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / CLOCK_TICKS


def positions(ns: str) -> tuple[int, int]:
    """(relay position, chat_history position) as their processes last saved them."""
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        relay = conn.execute(psycopg.sql.SQL("SELECT position FROM {} WHERE name = 'relay'")
                             .format(psycopg.sql.Identifier(ns, "relay_position"))).fetchone()
        projector = conn.execute(psycopg.sql.SQL(
            "SELECT position FROM {} WHERE name = 'chat_history'").format(
                psycopg.sql.Identifier(ns, "projection_tracking"))).fetchone()
    return (relay[0] if relay else 0), (projector[0] if projector else 0)


def run(events: int) -> dict[str, Any]:
    ns = namespace()
    services = services_for(ns, rabbitmq_url=RABBITMQ_URL)
    env = {**os.environ, "AETHEX_DATABASE_URL": DATABASE_URL, "AETHEX_RABBITMQ_URL": RABBITMQ_URL,
           "AETHEX_REDIS_URL": REDIS_URL, "AETHEX_NAMESPACE": ns,
           "AETHEX_WEBHOOK_SECRET_KEY": "bench-key-" + "x" * 32, "AETHEX_LOG_LEVEL": "WARNING"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        stream_id, author = live_stream(services)
        for command in (["relay"], ["project", "chat_history"]):
            procs.append(subprocess.Popen([sys.executable, "-m", "entrypoints.cli", *command],
                                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        start_head = services.store.head()
        deadline = time.monotonic() + 60
        while positions(ns) != (start_head, start_head):  # both caught up, the queue bound
            if time.monotonic() > deadline:
                raise RuntimeError(f"relay and projector did not start: {positions(ns)}")
            time.sleep(0.1)
        relay_cpu0, projector_cpu0 = cpu_seconds(procs[0].pid), cpu_seconds(procs[1].pid)
        writer_cpu0 = time.process_time()

        t0 = time.monotonic()
        for start in range(0, events, 2000):
            cmds = [SendMessage(stream_id=stream_id, author=author, content=f"part {i}")
                    for i in range(start, min(events, start + 2000))]
            results = send_messages(cmds, services.store)
            assert not any(isinstance(r, Exception) for r in results)
        written_s = time.monotonic() - t0
        writer_cpu = time.process_time() - writer_cpu0
        head = services.store.head()

        done: dict[str, float] = {}
        deadline = time.monotonic() + 600
        while len(done) < 2 and time.monotonic() < deadline:
            relay, projector = positions(ns)
            now = time.monotonic() - t0
            if relay >= head:
                done.setdefault("relay", now)
            if projector >= head:
                done.setdefault("projector", now)
            time.sleep(0.02)
        relay_cpu = cpu_seconds(procs[0].pid) - relay_cpu0
        projector_cpu = cpu_seconds(procs[1].pid) - projector_cpu0
        n = head - start_head
        return {
            "events": n,
            "writer": {"seconds": written_s, "per_s": n / written_s,
                       "cpu_us": writer_cpu / n * 1e6},
            "relay": {"seconds": done.get("relay"), "per_s": n / done["relay"]
                      if "relay" in done else None, "cpu_us": relay_cpu / n * 1e6},
            "projector": {"seconds": done.get("projector"), "per_s": n / done["projector"]
                          if "projector" in done else None, "cpu_us": projector_cpu / n * 1e6},
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        services.close()
        drop(ns)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    r = run(args.events)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"{r['events']:,} chat messages, {os.cpu_count()} cores; rate while the part had a "
          "backlog (from the first write to its last event), and CPU per event of its "
          "process (1 core / that = what one core sustains)")
    for part, label in (("writer", "event store writer (group commit batches of 2,000)"),
                        ("relay", "relay (log -> RabbitMQ), own process"),
                        ("projector", "projector chat_history (RabbitMQ -> rows), own process")):
        p = r[part]
        rate = f"{p['per_s']:,.0f} events/s in {p['seconds']:.1f} s" if p["per_s"] else \
            "did not finish"
        print(f"  {label}: {rate}; CPU {p['cpu_us']:.1f} us/event "
              f"(= {1e6 / p['cpu_us']:,.0f} events/s per core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
