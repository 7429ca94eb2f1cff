"""`aethex serve` on a web folder whose npm packages were never installed (no npm on the
machine): the API starts and answers, the start-up message says what the pages need, and
the pages and the docs page say it too instead of loading broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.harness import free_port, stop_processes

ROOT = Path(__file__).resolve().parents[2]


def test_the_api_starts_without_the_web_packages_and_says_what_the_pages_need(
        tmp_path: Path) -> None:
    web = tmp_path / "web"
    shutil.copytree(ROOT / "web", web, ignore=shutil.ignore_patterns("node_modules"))
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "AETHEX_DATA_DIR": str(tmp_path / "var"),
           "AETHEX_WEB_DIR": str(web), "AETHEX_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", "--port",
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "npm install" in line or proc.poll() is not None:
                break
        text = "".join(lines)
        assert "is up" in text and "npm install" in text and "the API works" in text, text
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert http.get("/health/live").json() == {"status": "ok"}
            r = http.post("/api/auth/register", json={
                "email": "a@example.com", "username": "alice", "password": "correct horse"})
            assert r.status_code == 201, r.text
            page = http.get("/dashboard")
            assert page.status_code == 503 and "npm install" in page.text
            assert page.headers["content-security-policy"]
            assert "npm install" in http.get("/schema").text
            assert http.get("/schema/openapi.json").status_code == 200
            vendor = http.get("/vendor/hls.mjs")
            assert vendor.status_code == 404 and "npm install" in vendor.json()["detail"]
    finally:
        stop_processes(proc)
