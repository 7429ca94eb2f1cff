"""The benchmark scripts still run (tiny sizes, figures not checked: speed goals live in
the scripts themselves, never in tests). Both on the topology docker-compose.yml runs:
API node, relay and projectors in their own processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import require_services

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.services


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_bench_chat_delivers_everything() -> None:
    require_services()
    out = run("scripts/bench_chat.py", "--viewers", "20", "--rate", "40", "--seconds", "1",
              "--procs", "1", "--senders", "2")
    assert "delivered 800 of 800" in out and "lost 0" in out, out


def test_bench_end_to_end_delivers_everything() -> None:
    require_services()
    out = run("scripts/bench.py", "--only", "e2e", "--rate", "40", "--seconds", "1")
    assert "0 errors, delivered 40/40 (fewest to one viewer 40)" in out, out
