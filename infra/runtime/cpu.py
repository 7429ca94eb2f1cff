"""Running background work on what the latency-bound paths leave of the CPU.

A process whose work can wait (the webhook sender) lowers its event loop's thread to
`SCHED_IDLE` ("idle": it runs when no normal thread wants the core) or to niceness 10
("low"). Linux keeps a scheduling policy per thread, and a new thread inherits its
creator's: the threads that talk to the database are therefore started before the loop's
thread is lowered (`prestarted_pool`), so they stay at normal priority. Otherwise a
lowered thread could be descheduled between a statement and its COMMIT while holding
locks the chat path waits on (the event store's table lock, taken by every append).

A thread's policy orders it only among the threads of its scheduling group. Where the
kernel groups by session (autogroup: processes in the root cgroup, as on a plain host or
VM, where every PostgreSQL backend is a group of its own), a lowered process started from
the same session as the API still spends its session's share: the API then waits behind
other groups for what the lowered process used. `own_scheduling_group` moves the process
into a session of its own and lowers that group's weight. Under a container runtime or
systemd (a cgroup per service) autogroup does not apply: the service's cgroup weight
does (`cpu.weight`, `cpu.idle`; `cpu_shares` in docker-compose.yml).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import structlog

log = structlog.get_logger(__name__)

Policy = Literal["idle", "low", "normal"]
LOW_NICENESS = 10


def prestarted_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A thread pool whose `workers` threads all exist now (the executor otherwise starts
    them on demand, from whichever thread submits, inheriting that thread's priority)."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    # Each task waits until all have started, so each needs a thread of its own.
    everyone = threading.Barrier(workers)
    for started in [pool.submit(everyone.wait, 10.0) for _ in range(workers)]:
        started.result()
    return pool


def lower_this_thread(policy: Policy) -> str:
    """Lowers the calling thread's CPU priority; says what it did (for the log). Where the
    system does not allow it (another OS, a sandbox), the thread keeps its priority."""
    if policy == "normal":
        return "normal"
    try:
        if policy == "idle" and sys.platform == "linux":
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return "SCHED_IDLE"
        # Linux: the calling thread's niceness (its nice value is per thread).
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOW_NICENESS)
        return f"nice {LOW_NICENESS}"
    except (OSError, AttributeError) as e:
        log.warning("cpu.not_lowered", policy=policy, error=str(e))
        return "normal"


def own_scheduling_group(policy: Policy) -> str:
    """Where sessions are scheduling groups (autogroup), puts this process in a session
    of its own and lowers the group's weight (niceness 19 for "idle", 10 for "low");
    says what it did. Call it before starting threads or child processes you mean to keep
    in the caller's group: they would follow."""
    if policy == "normal" or sys.platform != "linux":
        return "unchanged"
    try:
        if Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1":
            return "unchanged (no autogroup)"
        if sys.stdin is not None and sys.stdin.isatty():
            # Started from a terminal: a session of its own would no longer hear Ctrl-C,
            # and lowering the terminal's own group would slow the operator's shell too.
            return "unchanged (a terminal's session)"
        # A session (or process group) leader already has a group of its own.
        with contextlib.suppress(PermissionError):
            os.setsid()
        niceness = 19 if policy == "idle" else LOW_NICENESS
        Path("/proc/self/autogroup").write_text(str(niceness))
        return f"autogroup nice {niceness}"
    except OSError as e:
        log.warning("cpu.group_not_lowered", policy=policy, error=str(e))
        return "unchanged"


def this_thread_policy() -> str:
    """The calling thread's scheduling policy and niceness, as `lower_this_thread` names
    them (for tests and the log)."""
    if sys.platform == "linux" and os.sched_getscheduler(0) == os.SCHED_IDLE:
        return "SCHED_IDLE"
    nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    return f"nice {nice}" if nice else "normal"
