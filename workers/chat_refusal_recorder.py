"""The chat refusal recorder: every few seconds, this process's refused chat sends (counted
in memory by `RefusalTally`) become `ChatRefusals.Counted` events, so the failed-message
rate can be computed from the log. Every process that serves chat runs one, whatever
`AETHEX_WORKERS` says: the counts are its own."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from commands.chat_refusals import RecordChatRefusals, RefusalTally, record_chat_refusals
from commands.ports import Store

log = structlog.get_logger(__name__)


class ChatRefusalRecorder:
    name = "chat_refusals"

    def __init__(self, store: Store, tally: RefusalTally, *, node: str,
                 every_s: float = 10.0) -> None:
        self.store = store
        self.tally = tally
        self.node = node
        self.every_s = every_s
        self.recorded = 0

    def flush(self) -> int:
        """Records what the tally holds; on failure the counts go back to it and the error
        is raised (the supervisor counts it and runs the recorder again)."""
        counts, since = self.tally.take()
        if not counts:
            return 0
        try:
            record_chat_refusals(RecordChatRefusals(counts=counts, since=since,
                                                    node=self.node), self.store)
        except BaseException:
            self.tally.give_back(counts, since)
            raise
        n = sum(counts.values())
        self.recorded += n
        return n

    async def run(self, stopping: asyncio.Event) -> None:
        """Flushes every `every_s`, and once more when the process stops."""
        try:
            while not stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.every_s)
                await asyncio.to_thread(self.flush)
        finally:
            if stopping.is_set():
                try:
                    await asyncio.to_thread(self.flush)
                except Exception:  # the store is going away too; nothing else to do
                    log.exception("chat_refusals.final_flush_failed")
