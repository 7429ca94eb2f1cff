"""The README's API walk-through is executable documentation: run it as written."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.harness import embedded_settings, running

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    block = text.split("A walk-through with `curl`", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    assert "BASE=http://127.0.0.1:8000" in block
    return block


def test_readme_walkthrough_runs(tmp_path: Path) -> None:
    with running(embedded_settings(tmp_path)) as server:
        script = walkthrough().replace("BASE=http://127.0.0.1:8000", f"BASE={server.url}")
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"streamKey":"live_' in out and '"content":"first!"' in out
    assert '"status":"ENDING"' in out and '"status":"ARCHIVED"' in out
    assert "problem+json" not in out
