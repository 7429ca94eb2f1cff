"""`scripts/serve` installs the project's `dependencies` only, not the dev extra: every
module of the service must import without what only the dev extra brings. Each module is
imported in a fresh interpreter where the distributions reachable from the dev extra but
not from the dependencies cannot be imported."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("domain", "commands", "projections", "read_api", "workers", "infra", "entrypoints")


def _name(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, transitively (markers evaluated here,
    extras followed)."""
    seen: set[str] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = _name(req.name)
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (a marker for another platform upstream)
        for extra_ in ("", *req.extras):
            todo.extend((Requirement(r), extra_) for r in requires)
    return {k.split("[")[0] for k in seen}


def dev_only_modules() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serving = closure(project["dependencies"])
    dev = closure(project["optional-dependencies"]["dev"])
    only_dev = dev - serving
    return {module for module, dists in metadata.packages_distributions().items()
            if any(_name(d) in only_dev for d in dists) and module.isidentifier()}


# As if not installed: an import fails and `find_spec` (an optional import's probe)
# finds nothing.
HIDE = """
import sys
HIDDEN = set(sys.argv[1].split(","))
class Hide:
    def __init__(self, finders):
        self.finders = finders
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            return None
        for finder in self.finders:
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                return spec
        return None
    def find_distributions(self, *args, **kwargs):
        for finder in self.finders:
            yield from getattr(finder, "find_distributions", lambda *a, **k: ())(*args, **kwargs)
    def invalidate_caches(self):
        for finder in self.finders:
            getattr(finder, "invalidate_caches", lambda: None)()
sys.meta_path[:] = [Hide(list(sys.meta_path))]
"""

IMPORT_ALL = HIDE + """
import importlib, pkgutil
for package in sys.argv[2].split(","):
    importlib.import_module(package)
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        importlib.import_module(info.name)
from entrypoints.cli import main
"""


def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_the_service_imports_without_the_dev_extra() -> None:
    hidden = dev_only_modules()
    # What the dev extra is for is among them (and what serving needs is not).
    assert {"pytest", "moto", "playwright", "ruff", "importlinter"} <= hidden
    assert not {"litestar", "psycopg", "aiohttp", "msgspec", "eventsourcing"} & hidden
    done = run(IMPORT_ALL, ",".join(sorted(hidden)), ",".join(RUNTIME))
    assert done.returncode == 0, done.stderr[-3000:]
    # The hiding works: a module that needs pytest would have failed.
    refused = run(HIDE + "import pytest", ",".join(sorted(hidden)))
    assert refused.returncode != 0 and "No module named 'pytest'" in refused.stderr
