"""The layer rules of docs/architecture.md hold: import-linter checks the contracts in
pyproject.toml over the real import graph (a broken contract fails here and in CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout and "kept" in done.stdout


def test_a_forbidden_import_breaks_a_contract(tmp_path: Path) -> None:
    """The check can fail: an infra module that imports a route module is caught."""
    probe = ROOT / "infra" / "_contract_probe.py"
    probe.write_text("import read_api.streams  # noqa: F401\n")
    try:
        lint = Path(sys.executable).with_name("lint-imports")
        done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    finally:
        probe.unlink()
    assert done.returncode != 0
    assert "infra._contract_probe -> read_api.streams" in done.stdout, done.stdout[-3000:]
