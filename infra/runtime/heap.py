"""Keeps the cyclic garbage collector's pauses short in long-running processes.

A started API node holds ~140,000 objects that live as long as the process (modules,
the app's routes and signatures, the drivers' types). A full collection walks all of
them: 30-80 ms with the event loop stopped, every few seconds under load, which was
most of the chat path's p99. Frozen after start-up, they are left out of every later
collection; only what the process makes while serving is still walked.

The youngest generation is then collected after 50,000 more objects than were freed,
not Python's 700. A chat batch keeps its messages, their events and their callers' futures
alive until it commits (about a dozen tracked objects per message, thousands per batch), so
at 700 the collector ran every few dozen messages and walked the same batch again each
time: 5-6 µs of every group-committed message, a sixth of the process's CPU at full load
(`docs/benchmarks.md`). At 50,000 the group-commit benchmark made one young collection in
100,000 messages, of 4-7 ms: shorter than the full collections the default made there
every 8,000 messages (10-15 ms). Cyclic garbage waits longer to be freed: a few megabytes
at most.
"""

from __future__ import annotations

import gc

import structlog

log = structlog.get_logger(__name__)

# The youngest generation's threshold once settled (see the module docstring); the older
# generations keep Python's ratios.
YOUNG_THRESHOLD = 50_000


def settle() -> int:
    """Collects start-up garbage, moves every surviving object into the collector's
    permanent generation, and collects the youngest generation less often; returns how
    many objects that froze. Call once, after start-up and before serving, in a process's
    entry point (not in tests, which start and stop many services in one process)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    frozen = gc.get_freeze_count()
    log.info("heap.settled", frozen_objects=frozen, young_threshold=YOUNG_THRESHOLD)
    return frozen
