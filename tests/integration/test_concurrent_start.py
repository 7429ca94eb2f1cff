"""Processes that start together against one namespace (API nodes, relay, projectors, as
docker-compose.yml starts them) all come up: the schema is created by one at a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import (
    drop_namespace,
    new_namespace,
    production_env,
    require_services,
)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.services


def test_four_processes_creating_one_schema_at_once_all_succeed() -> None:
    require_services()
    ns = new_namespace()
    env = production_env(ns, AETHEX_JWT_SECRET="k" * 40, AETHEX_LOG_LEVEL="WARNING")
    try:
        for _ in range(3):  # the first round on a fresh namespace, then on an existing one
            procs = [subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "migrate"],
                                      cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE) for _ in range(4)]
            errors = [p.communicate(timeout=120)[1].decode()[-1500:] for p in procs]
            assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    finally:
        drop_namespace(ns)
