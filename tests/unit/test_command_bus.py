"""The command bus: one handler per command type, run off the loop, counted, and decided
again after a lost optimistic-concurrency race; async handlers are awaited as they are."""

from __future__ import annotations

import asyncio
import threading

import msgspec
import pytest

from commands.bus import ATTEMPTS, CommandBus, NoHandler
from domain.errors import ConcurrentChange


class Ping(msgspec.Struct, frozen=True):
    n: int


class Chat(msgspec.Struct, frozen=True):
    text: str


async def test_a_command_runs_its_one_handler_off_the_loop_with_its_arguments() -> None:
    counted: list[str] = []
    bus = CommandBus(on_command=counted.append)
    seen: list[tuple[int, str, bool]] = []

    def ping(cmd: Ping, store: str) -> int:
        seen.append((cmd.n, store, threading.current_thread() is threading.main_thread()))
        return cmd.n * 2

    bus.register(Ping, ping, "the-store")
    assert await bus.execute(Ping(21)) == 42
    assert seen == [(21, "the-store", False)] and counted == ["ping"]
    with pytest.raises(ValueError):
        bus.register(Ping, ping, "again")
    with pytest.raises(NoHandler):
        await bus.execute(Chat("nobody handles me"))


async def test_a_lost_race_is_decided_again_then_reaches_the_caller() -> None:
    bus = CommandBus()
    tries = {"n": 0}

    def flaky(cmd: Ping) -> int:
        tries["n"] += 1
        if tries["n"] < cmd.n:
            raise ConcurrentChange("someone saved first")
        return tries["n"]

    bus.register(Ping, flaky)
    assert await bus.execute(Ping(ATTEMPTS)) == ATTEMPTS  # won on the last attempt
    tries["n"] = 0
    with pytest.raises(ConcurrentChange):
        await bus.execute(Ping(ATTEMPTS + 1))
    assert tries["n"] == ATTEMPTS


async def test_an_async_handler_is_awaited_on_the_loop_and_not_counted_twice() -> None:
    counted: list[str] = []
    bus = CommandBus(on_command=counted.append)

    class Committer:  # like the group commit: an object whose call is a coroutine
        async def __call__(self, cmd: Chat) -> str:
            await asyncio.sleep(0)
            return f"stored {cmd.text}"

    bus.register(Chat, Committer())
    assert await bus.execute(Chat("hi")) == "stored hi"
    assert counted == []
