"""Several API nodes against the same PostgreSQL, RabbitMQ and Redis: a message sent on
one reaches clients on the other, and the viewer count is the sum."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import (
    TEST_KEY,
    drop_namespace,
    free_port,
    new_namespace,
    production_env,
    require_services,
    stop_processes,
)
from tests.integration.client import Api, next_event
from tests.integration.live_support import wait_ready

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[list[str]]:
    require_services()
    namespace = new_namespace()
    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for i in range(2):
            port = free_port()
            env = production_env(
                namespace, AETHEX_JWT_SECRET=TEST_KEY, AETHEX_DATA_DIR=str(tmp_path / f"node{i}"),
                AETHEX_LOG_LEVEL="WARNING", AETHEX_VIEWER_SAMPLE_S="0.3",
                AETHEX_PRESENCE_HEARTBEAT_S="0.5", AETHEX_NODE_ID=f"node-{i}")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port)], cwd=ROOT,
                env=env, stdout=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
            if i == 0:  # the first node creates the schema before the second starts
                wait_ready(urls[0], procs[:1])
        wait_ready(urls[1], procs[1:2])
        yield urls
    finally:
        stop_processes(*procs)
        drop_namespace(namespace)



async def test_messages_and_viewer_counts_cross_nodes(two_nodes: list[str]) -> None:
    a = Api(two_nodes[0], two_nodes[0].replace("http", "ws"))
    b = Api(two_nodes[1], two_nodes[1].replace("http", "ws"))
    sockets = []
    try:
        owner = await a.register()
        channel = await a.channel(owner)
        stream = await a.go_live(owner, channel["id"])
        sid = stream["id"]
        # Joining on B, right after going live on A, is read-your-writes across nodes.
        await b.http.get(f"/api/streams/{sid}", params={"after": stream["position"]})
        on_a = [await a.subscribe(sid) for _ in range(2)]
        on_b = [await b.subscribe(sid) for _ in range(3)]
        sockets = on_a + on_b

        sent = await b.send(owner, sid, "sent on node b")
        assert sent.status_code == 201, sent.text
        for ws in sockets:
            message = await next_event(ws, "chat:message", timeout=10)
            assert message["content"] == "sent on node b"

        viewers = await next_event(on_a[0], "stream:viewers", timeout=15)
        while viewers["count"] != 5:
            viewers = await next_event(on_a[0], "stream:viewers", timeout=15)
        for api in (a, b):
            read = (await api.http.get(f"/api/streams/{sid}")).json()
            assert read["viewerCount"] == 5 and read["peakViewers"] == 5

        for ws in on_b:
            await ws.close()
        viewers = await next_event(on_a[0], "stream:viewers", timeout=15)
        while viewers["count"] != 2:
            viewers = await next_event(on_a[0], "stream:viewers", timeout=15)
        assert viewers["peak"] == 5
    finally:
        for ws in sockets:
            await ws.close()
        await asyncio.gather(a.close(), b.close())


async def test_one_port_served_by_two_processes(tmp_path: Path) -> None:
    """`aethex serve --processes 2`: both processes share the port and the live fan-out.
    Which process holds each connection is read from /proc: the pid whose descriptors hold
    the server's end of it."""
    require_services()
    namespace = new_namespace()
    port = free_port()
    env = production_env(namespace, AETHEX_JWT_SECRET=TEST_KEY,
                         AETHEX_DATA_DIR=str(tmp_path / "var"), AETHEX_LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port),
                             "--processes", "2"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    api = Api(url, url.replace("http", "ws"))
    sockets = []
    try:
        wait_ready(url, [proc])
        owner = await api.register()
        channel = await api.channel(owner)
        stream = await api.go_live(owner, channel["id"])
        await api.http.get(f"/api/streams/{stream['id']}", params={"after": stream["position"]})
        # The kernel hands each connection to whichever process accepts first: connect
        # until both have some (a few suffice; 40 without a second one is a failure).
        served_by: dict[int, list[int]] = {}
        while len(served_by) < 2 and len(sockets) < 40:
            ws = await api.subscribe(stream["id"])
            sockets.append(ws)
            pid = _serving_pid(proc.pid, port, ws.local_address[1])
            served_by.setdefault(pid, []).append(len(sockets) - 1)
        assert len(served_by) == 2, f"one process served all {len(sockets)} connections"
        assert proc.pid not in served_by  # the workers serve, not the supervisor
        for i in range(5):
            assert (await api.send(owner, stream["id"], f"p{i}")).status_code == 201
        for ws in sockets:  # sent through one process, heard on both
            got = [(await next_event(ws, "chat:message", timeout=10))["content"]
                   for _ in range(5)]
            assert got == [f"p{i}" for i in range(5)]
    finally:
        for ws in sockets:
            await ws.close()
        await api.close()
        stop_processes(proc)
        drop_namespace(namespace)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _serving_pid(root: int, server_port: int, client_port: int) -> int:
    """The pid, `root` or one of its descendants, holding the server's end of the loopback
    TCP connection from `client_port`."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
            if int(local, 16) == server_port and int(remote, 16) == client_port:
                inode = fields[9]
    assert inode is not None, f"no server end for client port {client_port}"
    for pid in [root, *_descendants(root)]:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no process of {root} holds socket {inode}")


def test_several_processes_need_the_production_services(tmp_path: Path) -> None:
    env = {**os.environ, "AETHEX_DATA_DIR": str(tmp_path / "var")}
    for name in ("AETHEX_DATABASE_URL", "AETHEX_RABBITMQ_URL"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve", "--processes", "2",
                           "--port", str(free_port())], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--processes needs" in done.stderr
