"""The Socket.IO chat benchmark (scripts/bench_sio.py) runs and counts what it says.

Tiny sizes, speed not checked (goals live in the benchmark, never in tests): one run drives
both servers, ours over Socket.IO and plain WebSocket and the plan-style baseline over
Socket.IO, and every printed figure must parse and add up. Its viewers' counting is checked
against a scripted server that loses, doubles and reorders messages on purpose, and its
senders' against one that holds acks back, answers them out of order, twice, with errors or
never, so a counter that could never show a failure would fail here."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from scripts.bench import drop
from scripts.bench_sio import merge_senders, start_baseline
from tests.harness import require_services

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "bench_sio.py"
ROW = re.compile(
    r"^\| (?P<target>\w+) \| (?P<via>\w+) \| (?P<offered>[\d.]+) \| (?P<sent>[\d,]+) "
    r"\| (?P<lag>[\d.]+) / (?P<lag_max>[\d.]+) \| [\d.]+ / [\d.]+ \((?P<errors>\d+), "
    r"(?P<unanswered>\d+)\) \| (?P<delivered>[\d,]+) / (?P<expected>[\d,]+) "
    r"\((?P<share>[\d.]+) %\) "
    r"\| (?P<lost>[\d,]+) \| (?P<doubled>[\d,]+) \| (?P<ooo>[\d,]+) \| (?P<inv>[\d,]+) "
    r"\| (?P<p50>[\d.]+) / (?P<p99>[\d.]+) / (?P<max>[\d.]+) \((?P<n>[\d,]+)\) \|$", re.M)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.services
def test_bench_sio_runs_both_servers_and_counts_every_delivery() -> None:
    require_services()
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--rates", "40", "--seconds", "1", "--viewers", "3",
         "--senders", "3", "--sender-procs", "2", "--procs", "2", "--drain", "1",
         "--transport", "both", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    runs = {(r["target"], r["transport"]): r for r in report["runs"]}
    assert set(runs) == {("baseline", "sio"), ("ours", "sio"), ("ours", "ws")}
    for key, r in runs.items():
        assert r["sent"] == 40 and r["acks"] == 40 and r["ack_errors"] == {}, (key, r)
        assert (r["sender_procs"], r["ack_strays"], r["unsent"], r["senders_closed"]) == (
            2, 0, 0, 0), (key, r)
        assert r["cpu_s"]["senders"] > 0, (key, r)
        assert r["expected"] == 120 and r["delivered"] == 120 and r["fewest"] == 40, (key, r)
        assert (r["lost"], r["doubled"], r["stray"]) == (0, 0, 0), (key, r)
        assert (r["dropped"], r["unjoined"]) == (0, 0), (key, r)
        assert r["samples"] == 120, (key, r)  # every viewer timed, every delivery a sample
        assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["max_ms"] + 0.1, (key, r)
        assert r["lag_max_ms"] >= r["lag_p99_ms"] >= 0, (key, r)
    for via in ("sio", "ws"):  # one node orders a room's messages
        assert runs[("ours", via)]["out_of_order"] == 0
        assert runs[("ours", via)]["inversions"] == 0
    assert set(report["sustained"]) == {"baseline/sio", "ours/sio", "ours/ws"}
    assert set(report["ratios"]) == {"ours/sio : baseline/sio", "ours/ws : baseline/sio"}

    # The table printed beside the JSON says the same.
    rows = {(m["target"], m["via"]): m for m in ROW.finditer(done.stderr)}
    assert set(rows) == set(runs), done.stderr
    for key, m in rows.items():
        r = runs[key]
        assert _int(m["sent"]) == round(r["achieved"])
        assert (_int(m["delivered"]), _int(m["expected"]), float(m["share"])) == (120, 120, 100)
        assert (_int(m["lost"]), _int(m["doubled"]), _int(m["n"])) == (0, 0, 120)
        assert (int(m["errors"]), int(m["unanswered"])) == (0, 0)
        assert abs(float(m["p99"]) - r["p99_ms"]) < 0.06
    for key, s in report["sustained"].items():
        line = f"sustained {key}: "
        assert line in done.stderr
        if s["sustained"] is not None:
            assert f"{line}{s['sustained']:g} msg/s" in done.stderr


def _message(i: int, position: int) -> dict[str, Any]:
    return {"id": f"id-{i}", "streamId": "room", "user": {
        "id": "u", "username": "u", "displayName": "u", "badges": []}, "content": f"m{i}",
        "createdAt": "2026-12-01T00:00:00+00:00", "position": position}


# m0, m1, m1 again (doubled), m3, then m2 (after a later message of the same sender, and a
# lower position than one already seen), m9 (outside the schedule), and m4 never.
SCRIPTED = [(0, 10), (1, 11), (1, 11), (3, 13), (2, 12), (9, 19)]
HISTORY = [_message(0, 10)]  # history frames must not count as deliveries


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


async def _scripted_server(pongs: list[str]) -> web.AppRunner:
    """Speaks just enough Engine.IO / Socket.IO and of our /ws/streams to script a room."""

    async def sio(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('0{"sid":"e","upgrades":[],"pingInterval":25000,'
                          '"pingTimeout":20000,"maxPayload":1000000}')
        assert await ws.receive_str() == "40"
        await ws.send_str('40{"sid":"s"}')
        assert (await ws.receive_str()).startswith('421["chat:join",{"streamId":"room"}')
        await ws.send_str("2")  # a ping while joining is answered too
        pongs.append(await ws.receive_str())
        await ws.send_str('42["chat:history",' + _compact(HISTORY) + "]")
        await ws.send_str('431[{"ok":true}]')
        await ws.send_str('42["stream:viewers",{"streamId":"room","count":2,"peak":2}]')
        for i, position in SCRIPTED:
            await ws.send_str("42" + _compact(["chat:message", _message(i, position)]))
        await ws.send_str("2")
        pongs.append(await ws.receive_str())
        async for _ in ws:  # until the viewer closes at its deadline
            pass
        return ws

    async def plain(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(_compact([{"event": "chat:history", "data": HISTORY},
                                    {"event": "stream:status", "data": {"id": "room"}}]))
        frames = [{"event": "chat:message", "data": _message(i, p)} for i, p in SCRIPTED]
        await ws.send_str(_compact(frames[:3]))  # coalesced: several messages in one frame
        for frame in frames[3:]:
            await ws.send_str(_compact(frame))
        async for _ in ws:
            pass
        return ws

    async def refuse(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close(code=4500)  # as a server that fails while joining
        return ws

    app = web.Application()
    app.router.add_get("/socket.io/", sio)
    app.router.add_get("/ws/streams/room", plain)
    app.router.add_get("/ws/streams/refused", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def _viewers(port: int, transport: str, stream: str, viewers: int, total: int
                   ) -> dict[str, Any]:
    """Runs one viewer process of the benchmark against the scripted server."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--viewers-proc", f"http://127.0.0.1:{port}",
        transport, stream, str(viewers), "1", "100.0", str(total), "0.5",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
    proc.stdin.write(f"{time.monotonic()!r}\n".encode())
    await proc.stdin.drain()
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    return json.loads(out)


@pytest.mark.parametrize("transport", ["sio", "ws"])
async def test_viewers_count_losses_doubles_and_reordering(transport: str) -> None:
    pongs: list[str] = []
    runner = await _scripted_server(pongs)
    viewers = 2
    try:
        summary = await _viewers(runner.addresses[0][1], transport, "room", viewers, 5)
    finally:
        await runner.cleanup()
    # Per viewer: m0, m1, m2, m3 delivered; m4 lost; one double; m2 out of order and
    # below a position seen before; m9 outside the schedule.
    assert summary["delivered"] == 4 * viewers and summary["fewest"] == 4
    assert summary["lost"] == 1 * viewers
    assert summary["doubled"] == 1 * viewers
    assert summary["out_of_order"] == 1 * viewers
    assert summary["inversions"] == 1 * viewers
    assert summary["stray"] == 1 * viewers
    assert summary["dropped"] == 0 and summary["unjoined"] == 0
    assert sum(summary["hist"].values()) == 4 * viewers  # only first copies are timed
    if transport == "sio":
        assert pongs == ["3"] * (2 * viewers)  # Engine.IO pings answered, joining and after


async def test_a_viewer_that_never_joins_loses_everything() -> None:
    runner = await _scripted_server([])
    try:
        summary = await _viewers(runner.addresses[0][1], "ws", "refused", 1, 5)
    finally:
        await runner.cleanup()
    assert summary["unjoined"] == 1 and summary["join_retries"] == 3
    assert (summary["delivered"], summary["fewest"], summary["lost"]) == (0, 0, 5)


# Senders: three over two processes (0 and 2 in the first, 1 in the second), the middle
# one anonymous. Message i goes through sender i % 3 with ack id i + 1.
SENDER_TOKENS = ["good0", "", "good2"]
SENDS = 9


async def _scripted_sender_server(seen: list[tuple[str, int, str]], pongs: list[str]
                                  ) -> web.AppRunner:
    """A Socket.IO server for senders: an anonymous send gets an error ack at once; a
    signed-in connection's acks are held until all three of its messages are in (a sender
    waiting for acks would never get one), then come in reverse order, the first twice,
    with one for no message, one error (m5) and none for m8. Every send is echoed to the
    sender as a room message, which it must skip."""

    async def sio(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('0{"sid":"e","upgrades":[],"pingInterval":25000,'
                          '"pingTimeout":20000,"maxPayload":1000000}')
        hello = await ws.receive_str()
        token = json.loads(hello[2:])["token"] if len(hello) > 2 else ""
        assert hello == ("40" + _compact({"token": token}) if token else "40"), hello
        await ws.send_str('40{"sid":"s"}')
        join = await ws.receive_str()
        assert join == '420["chat:join",{"streamId":"room"}]', join
        await ws.send_str("2")  # a ping while joining is answered too
        pongs.append(await ws.receive_str())
        await ws.send_str('42["chat:history",' + _compact(HISTORY) + "]")
        await ws.send_str('430[{"ok":true,"streamId":"room","history":1}]')
        held: list[tuple[int, int]] = []
        while len(held) < 3:
            m = re.fullmatch(r'42(\d+)\["chat:send",\{"content":"m(\d+)"\}\]',
                             await ws.receive_str())
            assert m is not None
            n, i = int(m[1]), int(m[2])
            seen.append((token, n, f"m{i}"))
            # The room's copy: it looks like an ack inside, and must not count as one.
            await ws.send_str("42" + _compact(["chat:message", _message(i, i)
                                               | {"note": f'43{n}[{{"ok":true}}]'}]))
            held.append((n, i))
            if not token:
                await ws.send_str(f'43{n}[{{"ok":false,"code":"unauthenticated",'
                                  f'"message":"connect with a token"}}]')
        if token:
            await ws.send_str("2")
            pongs.append(await ws.receive_str())
            for n, i in reversed(held):
                if i == 8:
                    continue  # never answered
                answer = ({"ok": False, "code": "not_joined", "message": "join first"}
                          if i == 5 else {"ok": True, "id": f"id-{i}", "position": i})
                await ws.send_str(f"43{n}" + _compact([answer]))
            await ws.send_str(f"43{held[0][0]}" + _compact([{"ok": True}]))  # again
            await ws.send_str('43999[{"ok":true}]')  # no message has this id
        async for _ in ws:  # until the sender closes
            pass
        return ws

    app = web.Application()
    app.router.add_get("/socket.io/", sio)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def _senders(base: str, stream: str, tokens: list[str], total: int, procs: int
                   ) -> list[dict[str, Any]]:
    """Runs the benchmark's sender processes against a server; their summaries."""
    children = [await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--senders-proc", base, stream, ",".join(tokens),
        "100.0", str(total), "0.5", str(proc), str(procs),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**26)
        for proc in range(procs)]
    try:
        for child in children:
            assert child.stdout is not None
            assert (await asyncio.wait_for(child.stdout.readline(), 60)).strip() == b"ready"
        t0 = time.monotonic() + 0.2
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{t0!r}\n".encode())
            await child.stdin.drain()
        outs = []
        for child in children:
            out, _ = await asyncio.wait_for(child.communicate(), 30)
            assert child.returncode == 0
            outs.append(json.loads(out))
        return outs
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()


async def test_senders_count_acks_by_id_errors_and_the_unanswered() -> None:
    seen: list[tuple[str, int, str]] = []
    pongs: list[str] = []
    runner = await _scripted_sender_server(seen, pongs)
    try:
        outs = await _senders(f"http://127.0.0.1:{runner.addresses[0][1]}", "room",
                              SENDER_TOKENS, SENDS, 2)
    finally:
        await runner.cleanup()
    # Each message went out once, through sender i % 3, with ack id i + 1.
    assert sorted(seen, key=lambda x: x[1]) == [
        (SENDER_TOKENS[i % 3], i + 1, f"m{i}") for i in range(SENDS)]
    assert pongs == ["3"] * 5  # three joins, then the two signed-in senders once more
    # The first process holds senders 0 and 2 (six messages), the second sender 1.
    assert [o["sent"] for o in outs] == [6, 3]
    assert [o["acks"] for o in outs] == [5, 3]
    assert outs[0]["ack_errors"] == {"not_joined": 1}
    assert outs[1]["ack_errors"] == {"unauthenticated": 3}
    assert [o["ack_strays"] for o in outs] == [4, 0]  # a repeat and id 999, per connection
    assert all(o["closed"] == 0 and o["unsent"] == {} for o in outs)
    merged = merge_senders(outs, 100.0)
    assert (merged["sent"], merged["acks"], merged["ack_strays"]) == (9, 8, 4)
    assert merged["ack_errors"] == {"not_joined": 1, "unauthenticated": 3}
    assert 0 <= merged["lag_p99_s"] <= merged["lag_max_s"]
    assert 0 < merged["ack_p50_s"] <= merged["ack_p99_s"]
    assert abs(merged["send_s"] - 9 / 100) < 0.2  # m8 was due 80 ms after t0
    assert merged["cpu_s"] == pytest.approx(sum(o["cpu_s"] for o in outs))


@pytest.mark.services
async def test_senders_count_the_baseline_refusing_an_anonymous_send() -> None:
    """The real python-socketio server's acks, ok and refused, parse the same way."""
    require_services()
    schema = f"t_bench_sio_{time.monotonic_ns()}"
    target = await asyncio.to_thread(start_baseline, schema, 1)
    try:
        outs = await _senders(target.base, "00000000-0000-4000-8000-000000000001",
                              ["bencher0", ""], 10, 2)
    finally:
        target.procs[0].terminate()
        await asyncio.to_thread(target.procs[0].wait, 20)
        await asyncio.to_thread(drop, schema)
    merged = merge_senders(outs, 100.0)
    assert (merged["sent"], merged["acks"], merged["ack_strays"]) == (10, 10, 0)
    assert merged["ack_errors"] == {"unauthenticated": 5}  # m1, m3, ..., m9
    assert outs[0]["ack_errors"] == {}
