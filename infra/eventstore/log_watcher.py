"""Wakes the relay when the event log may have grown: a save in this process, a PostgreSQL
NOTIFY from any process, or (as a safety net) a timer."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import structlog

log = structlog.get_logger(__name__)


class LogWatcher:
    """`poke()` is thread-safe; `wait(timeout)` returns early when poked or notified."""

    def __init__(self, pg_params: dict[str, str] | None = None, channel: str | None = None,
                 lock_key: str | None = None) -> None:
        self.pg_params = pg_params
        self.channel = channel
        self.lock_key = lock_key
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: psycopg.AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        if self.pg_params and self.channel:
            self._conn = await psycopg.AsyncConnection.connect(**self.pg_params, autocommit=True)
            await self._conn.execute(
                psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(self.channel)))
            self._task = asyncio.create_task(self._listen(), name="log-watcher")

    async def _listen(self) -> None:
        assert self._conn is not None
        try:
            async for _ in self._conn.notifies():
                self._set()
        except (psycopg.Error, asyncio.CancelledError):
            return
        finally:
            self._set()  # wake the relay: it checks `alive` before its next step

    @property
    def alive(self) -> bool:
        """False once the listening connection (which holds the leader lock) is gone."""
        if self._conn is None:
            return True  # embedded: nothing to lose
        return not self._conn.closed and self._task is not None and not self._task.done()

    async def try_lead(self) -> bool:
        """Session-level advisory lock: one relay publishes at a time across processes."""
        if self._conn is None or self.lock_key is None:
            return True
        cur = await self._conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                       (self.lock_key,))
        row = await cur.fetchone()
        return bool(row and row[0])

    def _set(self) -> None:
        if self._event is not None:
            self._event.set()

    def poke(self, *_: object) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._set)

    async def wait(self, timeout: float) -> None:
        assert self._event is not None, "start() first"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None
            self._task = None
        self._loop = None
