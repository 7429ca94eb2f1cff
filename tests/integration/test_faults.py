"""The fault suite, short form: scripts/faults.py's own PostgreSQL, RabbitMQ and Redis and
the compose topology on them (one stack for the module), ~10 s of chat per round, and three
faults: SIGKILL of the projectors, a RabbitMQ stop/start, a PostgreSQL fast restart. Each
must lose nothing, double nothing, bring every read model to the head and live chat back.

The broker and database faults used to break the projectors only in some runs, so those
cases repeat their fault (stopping at the first failed round): one lucky round must not be
able to pass, nor, once fixed, one unlucky one to go unnoticed.

It needs the servers' binaries, not the machine's services: under CI (or with
AETHEX_REQUIRE_SERVICES=1) missing binaries fail the test, elsewhere they skip it.
AETHEX_FAULTS_COMMIT=REV runs the topology from that commit instead of the working tree."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import uvloop

from scripts import faults

REQUIRED = (os.environ.get("AETHEX_REQUIRE_SERVICES", "") not in ("", "0", "false")
            or os.environ.get("CI", "") not in ("", "0", "false"))
SECONDS = 10.0
RATE = 200.0
RECOVERY_TIMEOUT_S = 20.0  # the goal is 10 s; the margin is for a busy shared CI machine

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack() -> Iterator[faults.Stack]:
    missing = faults.missing_binaries()
    if missing:
        message = f"the fault suite needs {'; '.join(missing)}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    with faults.Stack(commit=os.environ.get("AETHEX_FAULTS_COMMIT") or None) as started:
        started.start()
        yield started


def _log_lines(stack: faults.Stack, per_role: int = 40) -> str:
    """The last warnings and errors each process logged."""
    out: list[str] = []
    for role in faults.ROLES:
        path = stack.log_path(role)
        if not path.exists():
            continue
        # Warnings and errors, and each projector's starts: which never came back.
        lines = [line for line in path.read_text(errors="replace").splitlines()
                 if any(w in line.lower() for w in ("warn", "error", "exception", "failed",
                                                     "projector.started", "relay.started"))]
        out.append(f"--- {role}.log: {len(lines)} warning/error lines, the last {per_role}:")
        out.extend(lines[-per_role:])
    return "\n".join(out)


@pytest.mark.parametrize(("fault", "rounds"), [
    ("projectors-kill", 1),
    ("rabbitmq-restart", 4),
    ("postgres-fast", 2),
])
def test_fault_is_survived(stack: faults.Stack, fault: str, rounds: int) -> None:
    results = uvloop.run(faults.run_suite(
        stack, [faults.FAULTS[fault]] * rounds, seconds=SECONDS, rate=RATE,
        recovery_timeout=RECOVERY_TIMEOUT_S, stop_after_failure=True))
    summary = faults.format_table(results) + "\n" + "\n".join(
        f"{r.fault}: {'; '.join(r.notes)}" for r in results)
    if not all(r.ok for r in results):  # CI keeps only the output: add what the processes said
        summary += "\n" + _log_lines(stack)
        for r in results:  # and where the workers stood when the round failed (py-spy)
            for role, dump in r.stacks.items():
                summary += f"\n--- {role} stacks after {r.fault}:\n{dump}"
    for result in results:
        assert result.accepted > SECONDS * RATE / 3, summary  # the load did run
        assert result.lost == 0, summary
        assert result.doubled == 0, summary
        assert result.live_doubled == 0, summary
        assert result.viewer_errors == 0, summary
        assert result.caught_up, summary
        assert result.recovery_s is not None, summary
    assert len(results) == rounds, summary
