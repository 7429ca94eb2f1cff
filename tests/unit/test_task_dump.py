"""SIGUSR1's task dump: each task's await chain, nested awaits included."""

from __future__ import annotations

import asyncio

import structlog

from infra.runtime.task_dump import log_task_stacks, task_stacks


async def _inner(event: asyncio.Event) -> None:
    await event.wait()


async def _outer(event: asyncio.Event) -> None:
    await _inner(event)


async def test_a_suspended_task_shows_every_await_down_to_its_future() -> None:
    event = asyncio.Event()
    task = asyncio.create_task(_outer(event), name="stuck-one")
    await asyncio.sleep(0)
    try:
        stacks = task_stacks()
        chain = next(lines for name, lines in stacks.items() if name.startswith("stuck-one#"))
        names = [line.rsplit(" in ", 1)[-1] for line in chain if " in " in line]
        assert names[:3] == ["_outer", "_inner", "wait"], chain
        assert chain[-1] == "awaiting a Future", chain
        with structlog.testing.capture_logs() as logs:
            log_task_stacks()
        assert logs[0]["event"] == "process.tasks" and logs[0]["tasks"] == len(stacks)
    finally:
        event.set()
        await task
