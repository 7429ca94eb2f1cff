"""Settling the heap: start-up objects leave the collector's generations for good, so a
full collection walks only what the process has made since."""

from __future__ import annotations

import gc

from infra.runtime import heap


def test_settle_freezes_what_lives_now_and_later_garbage_is_still_collected() -> None:
    class Cycle:
        def __init__(self) -> None:
            self.me = self

    threshold = gc.get_threshold()
    try:
        frozen = heap.settle()
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *threshold[1:])
        assert frozen == gc.get_freeze_count() > 1000  # this process's modules, at least
        assert sum(gc.get_count()) < 100  # the generations start (nearly) empty
        Cycle()  # unreachable once made: only the collector can free a cycle
        assert gc.collect() >= 1  # garbage made after settling is collected as before
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()  # the test process goes on as it was
        gc.set_threshold(*threshold)
