"""Mutation check of the critical guards: each mutant flips one guard (the owner check on
go-live, the ban check on send, the projectors' tracking-position checks, the webhook
signature comparisons) in a temporary copy of the tree, and runs the tests that should
notice. A mutant the tests do not kill is a guard nothing defends; the run then fails.

The working tree is never touched: the copy lives in a temporary directory and its tests
run with this interpreter (the project's venv), importing the copy's modules first.
Mutants are found by their exact source text; a guard whose text changed fails the run
loudly instead of being skipped. `scripts/mutants --markdown` prints the result as the
table of `docs/mutants.md`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Not copied: the venv (used in place), data, caches, and version control.
SKIP = {".venv", "var", ".git", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache",
        ".mypy_cache", "aethex_live.egg-info"}
TIMEOUT_S = 600


@dataclass(frozen=True)
class Mutant:
    name: str
    guard: str
    path: str
    find: str  # exact source text, present exactly once in `path`
    replace: str
    mutation: str
    tests: tuple[str, ...]  # pytest arguments: files or node ids


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        name="go-live-owner",
        guard="owner check on go-live (`commands/go_live.py`)",
        path="commands/go_live.py",
        find="    require_owner_or_system(channel, cmd.actor_id)\n",
        replace="    pass  # mutant: anyone may start the channel's stream\n",
        mutation="`require_owner_or_system(...)` removed",
        tests=("tests/unit/test_commands_streams.py",),
    ),
    Mutant(
        name="send-ban",
        guard="ban check on send (`commands/send_message.py`)",
        path="commands/send_message.py",
        find="    if banned:\n        raise Banned(",
        replace="    if False:\n        raise Banned(",
        mutation="`if banned:` becomes `if False:`",
        tests=("tests/unit/test_moderation.py", "tests/unit/test_commands_chat.py"),
    ),
    Mutant(
        name="projector-upto",
        guard="tracking position: a batch at or below it is skipped (`workers/projector.py`)",
        path="workers/projector.py",
        find="            if upto <= current:\n",
        replace="            if False:\n",
        mutation="`if upto <= current:` becomes `if False:`",
        tests=("tests/integration/test_projectors.py",),
    ),
    Mutant(
        name="projector-fresh",
        guard="tracking position: only events past it are applied (`workers/projector.py`)",
        path="workers/projector.py",
        find="            fresh = [e for e in events if e.position > current]\n",
        replace="            fresh = list(events)\n",
        mutation="`fresh = [e ... if e.position > current]` becomes `fresh = list(events)`",
        tests=("tests/integration/test_projectors.py",),
    ),
    Mutant(
        name="provider-signature",
        guard="Mux / Cloudflare webhook signature compare (`infra/ingest/signatures.py`)",
        path="infra/ingest/signatures.py",
        find="hmac.compare_digest(s.strip().lower().encode(), expected)",
        replace="bool(s)",
        mutation="`hmac.compare_digest(sig, expected)` becomes `bool(sig)`",
        tests=("tests/unit/test_ingest_signatures.py",),
    ),
    Mutant(
        name="svix-signature",
        guard="Clerk (Svix) webhook signature compare (`infra/identity/svix.py`)",
        path="infra/identity/svix.py",
        find="hmac.compare_digest(entry.encode(), expected)",
        replace="bool(entry)",
        mutation="`hmac.compare_digest(entry, expected)` becomes `bool(entry)`",
        tests=("tests/unit/test_identity_infra.py",),
    ),
)


def copy_tree(dest: Path) -> Path:
    tree = dest / "tree"
    shutil.copytree(ROOT, tree, ignore=lambda _dir, names: [n for n in names if n in SKIP],
                    symlinks=True)
    return tree


def test_env(tree: Path) -> dict[str, str]:
    # No bytecode: a mutated module and its restored original may share a size and an
    # mtime second, and a stale .pyc would then run the wrong one.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(tree), env.get("PYTHONPATH"))))
    return env


def check_imports_from(tree: Path) -> None:
    """The venv has the project installed editable (pointing at the working tree): make
    sure the copy's modules win, or every mutant would run against the real code."""
    out = subprocess.run(
        [sys.executable, "-c", "import commands.go_live as m; print(m.__file__)"],
        cwd=tree, env=test_env(tree), capture_output=True, text=True, check=True).stdout
    if not Path(out.strip()).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"mutants: the copy imports {out.strip()}, not its own modules")


def check_patterns(tree: Path, mutants: tuple[Mutant, ...]) -> None:
    problems = []
    for m in mutants:
        found = (tree / m.path).read_text().count(m.find)
        if found != 1:
            problems.append(f"{m.name}: {m.find.strip()!r} found {found} times in {m.path} "
                            "(expected once); update the mutant to the current source")
    if problems:
        raise SystemExit("mutants: " + "\n  ".join(["patterns not found:", *problems]))


def run_tests(tree: Path, args: tuple[str, ...]) -> tuple[int, float, str]:
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args],
            cwd=tree, env=test_env(tree), capture_output=True, text=True, timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, time.monotonic() - started, f"timed out after {TIMEOUT_S}s"
    return done.returncode, time.monotonic() - started, (done.stdout + done.stderr)[-3000:]


def killer(tail: str) -> str:
    """The test that failed first (pytest's short summary names it)."""
    for line in tail.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split()[1]
    return ""


def verdict(code: int) -> str:
    # pytest: 0 all passed, 1 some failed; anything else is a broken run, not a kill.
    return {0: "survived", 1: "killed", -1: "killed (timeout)"}.get(code, f"error ({code})")


def markdown(results: list[tuple[Mutant, str, float]]) -> str:
    rows = ["| guard | mutation | tests run | killed |", "| --- | --- | --- | --- |"]
    for m, result, seconds in results:
        tests = ", ".join(f"`{t}`" for t in m.tests)
        by = result.partition(" by ")[2].split("[")[0].rpartition("/")[2]
        killed = (f"yes, by `{by}`" if by else f"yes ({result})") if result.startswith("killed") \
            else f"**no: {result}**"
        rows.append(f"| {m.guard} | {m.mutation} | {tests} ({seconds:.0f} s) | {killed} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[],
                        help="run only the mutants whose name contains this (repeatable)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip running the selected tests on the unmutated copy first")
    parser.add_argument("--markdown", action="store_true", help="print the result as a table")
    args = parser.parse_args(argv)
    mutants = tuple(m for m in MUTANTS if not args.only or any(o in m.name for o in args.only))
    if not mutants:
        raise SystemExit(f"mutants: none matches {args.only}; known: "
                         f"{', '.join(m.name for m in MUTANTS)}")

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aethex-mutants-") as tmp:
        tree = copy_tree(Path(tmp))
        check_patterns(tree, mutants)
        check_imports_from(tree)
        if not args.no_baseline:
            # A test that fails on the real code would "kill" every mutant it runs on.
            selected = tuple(dict.fromkeys(t for m in mutants for t in m.tests))
            code, seconds, tail = run_tests(tree, selected)
            print(f"baseline (unmutated): {'passed' if code == 0 else verdict(code)} "
                  f"in {seconds:.0f}s", flush=True)
            if code != 0:
                print(tail, file=sys.stderr)
                print("mutants: the unmutated tests do not pass; nothing to conclude",
                      file=sys.stderr)
                return 2
        results = []
        for m in mutants:
            target = tree / m.path
            original = target.read_text()
            target.write_text(original.replace(m.find, m.replace, 1))
            try:
                code, seconds, tail = run_tests(tree, m.tests)
            finally:
                target.write_text(original)
            result = verdict(code)
            if code == 1 and (by := killer(tail)):
                result += f" by {by}"
            results.append((m, result, seconds))
            print(f"{m.name:20} {seconds:4.0f}s  {result}", flush=True)
            if not result.startswith("killed"):
                print(tail, file=sys.stderr)
    print(f"{sum(r.startswith('killed') for _, r, _ in results)} of {len(results)} mutants "
          f"killed in {time.monotonic() - started:.0f}s")
    if args.markdown:
        print(markdown(results))
    return 0 if all(r.startswith("killed") for _, r, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
