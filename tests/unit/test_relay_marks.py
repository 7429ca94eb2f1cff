"""The relay's watermarks (which every projector commits) and position saves keep to their
intervals under a steady trickle of commits, and still catch up once the log goes quiet."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from uuid import uuid4

from domain.chat import ChatMessage
from entrypoints.bootstrap import Services
from infra.eventstore.envelope import EventBatch
from infra.eventstore.log_watcher import LogWatcher
from infra.messaging.bus import WATERMARK_KEY, InProcessBus
from tests.harness import embedded_settings
from workers.relay import Relay


class RecordingBus(InProcessBus):
    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[float, int]] = []

    async def publish(self, batches: Sequence[tuple[str, EventBatch]]) -> None:
        for key, batch in batches:
            if key == WATERMARK_KEY:
                self.marks.append((time.monotonic(), batch.upto))
        await super().publish(batches)


async def test_marks_keep_their_interval_under_a_trickle_and_catch_up_when_quiet(
        tmp_path: Path) -> None:
    services = Services(embedded_settings(tmp_path, workers="none"))
    bus = RecordingBus()
    watcher = LogWatcher()
    relay = Relay(services.store, bus, services.db, watcher, idle_wait_s=0.5)
    stopping = asyncio.Event()
    services.store.on_saved(watcher.poke)
    task = asyncio.create_task(relay.run(stopping))
    try:
        await asyncio.sleep(0.1)
        started = time.monotonic()
        stream, channel, author = uuid4(), uuid4(), uuid4()
        for i in range(60):  # a commit every few ms: the relay is idle between most of them
            await asyncio.to_thread(services.store.save, ChatMessage(
                stream_id=stream, channel_id=channel, author_id=author, username="u",
                display_name="U", badges=[], content=f"message {i}"))
            await asyncio.sleep(0.003)
        busy_for = time.monotonic() - started
        head = services.store.head()
        deadline = time.monotonic() + 2
        while (not bus.marks or bus.marks[-1][1] < head) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert bus.marks and bus.marks[-1][1] == head  # caught up once quiet
        during = [t for t, _ in bus.marks if started <= t <= started + busy_for]
        assert len(during) <= busy_for / Relay.MARK_EVERY_S + 2, (len(during), busy_for)
        gaps = [b - a for (a, _), (b, _) in zip(bus.marks, bus.marks[1:], strict=False)]
        assert all(g >= Relay.MARK_EVERY_S * 0.9 for g in gaps), gaps

        def saved() -> int:
            row = services.db.fetch_one("SELECT position FROM relay_position WHERE name = ?",
                                        ("relay",))
            return int(row["position"]) if row else 0

        deadline = time.monotonic() + 2  # the save keeps its own, longer interval
        while saved() < head and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert saved() == head
    finally:
        stopping.set()
        watcher.poke()
        await asyncio.wait_for(task, 5)
        services.close()
