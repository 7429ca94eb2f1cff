"""Every long-running process (API node, relay, projectors) settles its heap once it has
started (infra/runtime/heap.py): its start-up objects are frozen, so full collections stay short."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.harness import (
    drop_namespace,
    free_port,
    new_namespace,
    production_env,
    require_services,
    stop_processes,
)

ROOT = Path(__file__).resolve().parents[2]


def _settled(log: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """The frozen-object count the process logged, waiting for the line to appear."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith("{") and (entry := json.loads(line)).get("event") == "heap.settled":
                return int(entry["frozen_objects"])
        assert proc.poll() is None, f"exited {proc.returncode}: {log.read_text()[-1500:]}"
        time.sleep(0.2)
    raise AssertionError(f"no heap.settled line within {timeout:g} s: {log.read_text()[-1500:]}")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = {**env, "AETHEX_LOG_FORMAT": "json", "AETHEX_LOG_LEVEL": "INFO"}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "entrypoints.cli", *args], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=out)


def test_the_embedded_server_settles_its_heap_and_still_serves(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()  # embedded, even where CI requires services
           if k not in ("AETHEX_DATABASE_URL", "AETHEX_RABBITMQ_URL", "AETHEX_REDIS_URL",
                        "AETHEX_REQUIRE_SERVICES")}
    env["AETHEX_DATA_DIR"] = str(tmp_path / "var")
    port = free_port()
    proc = _start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    try:
        assert _settled(tmp_path / "serve.log", proc) > 50_000  # modules, routes, drivers
        url = f"http://127.0.0.1:{port}"
        r = httpx.post(f"{url}/api/auth/register", json={
            "email": "heap@example.com", "username": "heap", "password": "correct horse"})
        assert r.status_code == 201, r.text
        me = httpx.get(f"{url}/api/auth/user",
                       headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert me.status_code == 200 and me.json()["username"] == "heap"
    finally:
        stop_processes(proc)


@pytest.mark.services
def test_the_relay_and_projectors_settle_their_heaps(tmp_path: Path) -> None:
    require_services()
    ns = new_namespace()
    env = production_env(ns, AETHEX_JWT_SECRET="k" * 40, AETHEX_DATA_DIR=str(tmp_path / "var"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([sys.executable, "-m", "entrypoints.cli", "migrate"], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for command in ("relay", "project"):
            procs.append(_start([command], env, tmp_path / f"{command}.log"))
        for command, proc in zip(("relay", "project"), procs, strict=True):
            assert _settled(tmp_path / f"{command}.log", proc) > 20_000
    finally:
        stop_processes(*procs)
        drop_namespace(ns)
