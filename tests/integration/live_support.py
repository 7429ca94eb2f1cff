"""Support for the live fan-out tests: viewers on both transports that record everything
they hear, and the compose topology (API nodes without workers, `aethex relay` and
`aethex project` in processes of their own, so either can be paused)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import socketio
from socketio import packet as sio_packet
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.harness import (
    TEST_KEY,
    drop_namespace,
    free_port,
    new_namespace,
    production_env,
    require_services,
    stop_processes,
)
from tests.integration.client import Api, next_frame

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0  # how long a viewer may take to hear something it must hear


class Viewer:
    """A client in a room: records every event it receives, in arrival order."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()

    def record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))
        self._changed.set()

    def of(self, event: str) -> list[Any]:
        return [d for e, d in self.events if e == event]

    @property
    def history(self) -> list[dict[str, Any]] | None:
        """The `chat:history` of its (last) join."""
        found = self.of("chat:history")
        return found[-1] if found else None

    def messages(self) -> list[dict[str, Any]]:
        """The live `chat:message`s, in arrival order."""
        return self.of("chat:message")

    def contents(self) -> list[str]:
        return [m["content"] for m in self.messages()]

    async def until(self, predicate: Callable[[Viewer], bool], what: str,
                    timeout: float = TIMEOUT) -> None:
        """Waits for `predicate(self)`; fails saying what was expected and what came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.label}: {what} within {timeout:g} s; heard "
                    f"{Counter(e for e, _ in self.events)}, messages {self.contents()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def until_contents(self, contents: list[str], timeout: float = TIMEOUT) -> None:
        """Waits until every one of `contents` has arrived live."""
        wanted = set(contents)
        await self.until(lambda v: wanted <= set(v.contents()),
                         f"every one of {sorted(wanted)} live", timeout)

    async def until_history(self, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
        await self.until(lambda v: v.history is not None, "chat:history", timeout)
        assert self.history is not None
        return self.history

    async def close(self) -> None:
        raise NotImplementedError


class WsViewer(Viewer):
    """A plain WebSocket client (`/ws/streams/{id}`, joined from the start, or `/ws/chat`)."""

    def __init__(self, label: str, ws: ClientConnection) -> None:
        super().__init__(label)
        self.ws = ws
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, api: Api, label: str, stream_id: str | None = None,
                   token: str | None = None) -> WsViewer:
        path = f"/ws/streams/{stream_id}" if stream_id else "/ws/chat"
        ws = await connect(api.ws_url + path + (f"?token={token}" if token else ""))
        return cls(label, ws)

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
            while True:
                frame = await next_frame(self.ws, timeout=3600)
                self.record(frame["event"], frame.get("data"))

    async def emit(self, event: str, data: Any) -> None:
        await self.ws.send(json.dumps({"event": event, "data": data}))

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class SioViewer(Viewer):
    """A python-socketio client, on the websocket transport unless told otherwise."""

    def __init__(self, label: str, client: socketio.AsyncClient) -> None:
        super().__init__(label)
        self.client = client
        # A plain function, so each event is recorded in the order it arrived (the client
        # runs a task per packet; a coroutine handler could interleave them).
        client.on("*", self.record)

    @classmethod
    async def open(cls, api: Api, label: str, token: str | None = None,
                   transports: tuple[str, ...] = ("websocket",)) -> SioViewer:
        client = socketio.AsyncClient(reconnection=False)
        viewer = cls(label, client)
        await client.connect(str(api.http.base_url).rstrip("/"), transports=list(transports),
                             auth={"token": token} if token else None, wait_timeout=10)
        return viewer

    async def call(self, event: str, data: Any) -> dict[str, Any]:
        ack = await self.client.call(event, data, timeout=TIMEOUT)
        assert isinstance(ack, dict) and ack.get("ok"), f"{self.label}: {event} -> {ack}"
        return ack

    async def join(self, stream_id: str, since: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"streamId": stream_id}
        if since is not None:
            payload["since"] = since
        ack = await self.call("chat:join", payload)
        await self.until_history()
        return ack

    async def close(self) -> None:
        if self.client.transport() == "polling":
            # A long-polling client's clean close waits for its pending poll, which the
            # server answers at its next ping (25 s): say goodbye and let go instead.
            for namespace in self.client.namespaces:
                await self.client._send_packet(
                    self.client.packet_class(sio_packet.DISCONNECT, namespace=namespace))
            await self.client.eio.disconnect(abort=True)
        else:
            await self.client.disconnect()


async def close_all(viewers: list[Viewer]) -> None:
    for viewer in viewers:
        with contextlib.suppress(Exception):
            await viewer.close()


def count_by_id(viewer: Viewer, with_history: bool = False) -> Counter[str]:
    """How often each message id reached the viewer (live, and in its history if asked)."""
    seen = [m["id"] for m in viewer.messages()]
    if with_history:
        seen += [m["id"] for m in viewer.history or []]
    return Counter(seen)


async def read_model_contents(api: Api, stream_id: str) -> set[str]:
    """The contents the `chat_history` read model serves right now (no waiting). A page
    with a cursor is the read model's alone (the first page also holds what this node
    pushed lately), so it asks for the page before a position far beyond the log."""
    r = await api.http.get(f"/api/streams/{stream_id}/messages",
                           params={"limit": 100, "cursor": 10**15})
    assert r.status_code == 200, r.text
    return {m["content"] for m in r.json()["items"]}


async def until_read_model_has(api: Api, stream_id: str, contents: set[str],
                               timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not contents <= await read_model_contents(api, stream_id):
        assert time.monotonic() < deadline, "the chat_history read model did not catch up"
        await asyncio.sleep(0.05)


async def until_stream_readable(api: Api, stream_id: str, timeout: float = 20.0) -> None:
    """The stream is in this node's `stream_status` read model (so joins find it)."""
    deadline = time.monotonic() + timeout
    while (await api.http.get(f"/api/streams/{stream_id}")).status_code != 200:
        assert time.monotonic() < deadline, "the stream never reached the read model"
        await asyncio.sleep(0.05)


# -- the compose topology ----------------------------------------------------------------


def wait_ready(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 40,
               path: str = "/health/ready") -> None:
    """Until `url` answers 200 at `path`; fails at once if one of `procs` exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exited = [p.args for p in procs if p.poll() is not None]
        assert not exited, f"exited: {exited}"
        try:
            if httpx.get(f"{url}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready")


@dataclass
class Topology:
    urls: list[str]
    namespace: str
    relay: subprocess.Popen[bytes]
    projectors: subprocess.Popen[bytes]
    paused: set[int] = field(default_factory=set)

    def api(self, i: int) -> Api:
        return Api(self.urls[i], self.urls[i].replace("http", "ws"))

    def pause(self, proc: subprocess.Popen[bytes]) -> None:
        """Freezes a worker process: its connections stay open, it just does nothing."""
        os.kill(proc.pid, signal.SIGSTOP)
        self.paused.add(proc.pid)

    def resume(self, proc: subprocess.Popen[bytes]) -> None:
        os.kill(proc.pid, signal.SIGCONT)
        self.paused.discard(proc.pid)

    def resume_all(self) -> None:
        for pid in list(self.paused):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
            self.paused.discard(pid)


@contextmanager
def compose_topology(tmp_path: Path, nodes: int = 2) -> Iterator[Topology]:
    """As docker-compose.yml runs the service: `nodes` API nodes running no relay and no
    projectors, one `aethex relay`, one `aethex project`; in a namespace of their own."""
    require_services()
    namespace = new_namespace()
    procs: list[subprocess.Popen[bytes]] = []
    # Viewer counts sampled and presence refreshed often, as `two_nodes` does; no rate
    # limit, so one user may send a burst.
    env = production_env(namespace, AETHEX_JWT_SECRET=TEST_KEY,
                         AETHEX_DATA_DIR=str(tmp_path / "compose"), AETHEX_LOG_LEVEL="WARNING",
                         AETHEX_WORKERS="reconnect_grace", AETHEX_CHAT_RATE_LIMIT="none",
                         AETHEX_VIEWER_SAMPLE_S="0.3", AETHEX_PRESENCE_HEARTBEAT_S="0.5")
    topology: Topology | None = None
    try:
        subprocess.run([sys.executable, "-m", "entrypoints.cli", "migrate"], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        urls = []
        for i in range(nodes):
            port = free_port()
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port)], cwd=ROOT,
                env={**env, "AETHEX_NODE_ID": f"node-{i}",
                     "AETHEX_DATA_DIR": str(tmp_path / f"node{i}")},
                stdout=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        workers = [subprocess.Popen([sys.executable, "-m", "entrypoints.cli", command], cwd=ROOT,
                                    env=env, stdout=subprocess.DEVNULL)
                   for command in ("relay", "project")]
        procs += workers
        for url in urls:
            wait_ready(url, procs)
        topology = Topology(urls, namespace, relay=workers[0], projectors=workers[1])
        yield topology
    finally:
        if topology is not None:
            topology.resume_all()  # a frozen process cannot act on SIGTERM
        stop_processes(*procs)
        drop_namespace(namespace)
