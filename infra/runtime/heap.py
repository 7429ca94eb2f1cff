"""Keeps the cyclic garbage collector's pauses short in long-running processes.

A started API node holds ~140,000 objects that live as long as the process (modules,
the app's routes and signatures, the drivers' types). A full collection walks all of
them: 30-80 ms with the event loop stopped, every few seconds under load, which was
most of the chat path's p99. Frozen after start-up, they are left out of every later
collection; only what the process makes while serving is still walked.
"""

from __future__ import annotations

import gc

import structlog

log = structlog.get_logger(__name__)


def settle() -> int:
    """Collects start-up garbage, then moves every surviving object into the collector's
    permanent generation; returns how many objects that froze. Call once, after start-up
    and before serving, in a process's entry point (not in tests, which start and stop
    many services in one process)."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("heap.settled", frozen_objects=frozen)
    return frozen
