"""What tracing costs on the chat command path, in one process, off against on, alternating
round by round in one run (the machine is shared: only ratios within a run mean much).

Each round builds the services (embedded: SQLite, in-process bus) with tracing off, or on
with an OTLP/HTTP exporter sending to scripts/otlp_sink.py's receiver (started here, in a
process of its own), sends `--messages` chat messages through the command bus and the
group commit with `--concurrency` callers (each in a span, as a socket's `chat:send` is),
and measures this process's CPU time (every thread: the writer, the exporter) per message
and the wall time; then it reads the stored messages back as the relay does
(`EventStore.read`), per event. The end-to-end figures
under load, across processes, come from scripts/bench-sio (docs/benchmarks.md, "Tracing").

  .venv/bin/python scripts/bench_tracing.py [--messages 4000] [--concurrency 50] [--rounds 3]
                                            [--sample 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from commands.create_channel import CreateChannel, create_channel  # noqa: E402
from commands.go_live import GoLive, go_live  # noqa: E402
from commands.register_user import RegisterUser, register_user  # noqa: E402
from commands.send_message import Author, SendMessage  # noqa: E402
from entrypoints.bootstrap import Services  # noqa: E402
from infra.observability import tracing  # noqa: E402
from infra.observability.logging import configure_logging  # noqa: E402
from infra.settings import load_settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def send_all(services: Services, stream_id: object, author: Author, n: int,
                   concurrency: int) -> None:
    queue = iter(range(n))

    async def sender() -> None:
        for i in queue:
            command = SendMessage(stream_id=stream_id, author=author,  # type: ignore[arg-type]
                                  content=f"m{i}")
            if tracing.ON:  # as the socket gateway does for each `chat:send`
                with tracing.span("socket chat:send", kind="server"):
                    await services.commands.execute(command)
            else:
                await services.commands.execute(command)

    await asyncio.gather(*(sender() for _ in range(concurrency)))


def one_round(traced: bool, endpoint: str, messages: int, concurrency: int,
              sample: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data:
        settings = load_settings({}, data_dir=data, chat_rate_limit="none",
                                 otlp_endpoint=endpoint if traced else None,
                                 otlp_sample_ratio=sample)
        if traced:
            tracing.start_tracing(settings, "bench")
        services = Services(settings)
        try:
            owner = register_user(RegisterUser(email="b@example.com", username="bench",
                                               password="correct horse"), services.store,
                                  services.hasher)
            channel = create_channel(CreateChannel(owner_id=owner.user.id, slug="bench-chan",
                                                   name="Bench"), services.store).channel
            stream = go_live(GoLive(actor_id=owner.user.id, channel_id=channel.id),
                             services.store).stream
            author = Author(id=owner.user.id, username="bench", display_name="Bench")
            asyncio.run(send_all(services, stream.id, author, 200, concurrency))  # warm up
            cpu, wall = time.process_time(), time.perf_counter()
            asyncio.run(send_all(services, stream.id, author, messages, concurrency))
            if traced:
                tracing.flush()  # the export of these spans is part of the cost
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            head = services.store.head()
            reads = []
            for _ in range(3):  # the least of three: reading is short, the machine noisy
                read_cpu = time.process_time()
                events, _ = services.store.read(0, head + 1)
                reads.append(time.process_time() - read_cpu)
            read_cpu = min(reads)
            assert len(events) >= messages
            return {"cpu_us": cpu / messages * 1e6, "msg_s": messages / wall,
                    "read_us": read_cpu / len(events) * 1e6}
        finally:
            services.close()
            if traced:
                tracing.stop_tracing()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=4000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sample", type=float, default=1.0, help="AETHEX_OTLP_SAMPLE_RATIO when on")
    args = p.parse_args()
    configure_logging(json_logs=False, level="WARNING")
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "otlp_sink.py"),
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.0)
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    try:
        for r in range(args.rounds):
            for traced in (False, True) if r % 2 == 0 else (True, False):
                results[traced].append(one_round(traced, f"http://127.0.0.1:{port}",
                                                 args.messages, args.concurrency,
                                                 args.sample))
    finally:
        sink.terminate()
        out, _ = sink.communicate(timeout=10)
    print(f"# chat command path, embedded (SQLite), {args.messages} messages x "
          f"{args.rounds} rounds, {args.concurrency} concurrent callers, sample ratio "
          f"{args.sample:g} when on; medians")
    print("| tracing | CPU per message µs | messages/s | read per event µs |")
    print("| --- | --- | --- | --- |")
    med = {t: {k: statistics.median(x[k] for x in rs) for k in rs[0]}
           for t, rs in results.items()}
    for traced in (False, True):
        m = med[traced]
        print(f"| {'on' if traced else 'off'} | {m['cpu_us']:.0f} | {m['msg_s']:.0f} | "
              f"{m['read_us']:.1f} |")
    print(f"on / off: CPU per message x{med[True]['cpu_us'] / med[False]['cpu_us']:.2f}, "
          f"messages/s x{med[True]['msg_s'] / med[False]['msg_s']:.2f}, "
          f"read per event x{med[True]['read_us'] / med[False]['read_us']:.2f}")
    print(f"spans the sink decoded: {out.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
