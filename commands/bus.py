"""The command bus: the one way transports run a command. Each command type has one
handler, registered by the composition root with what it needs (the store, a hasher...);
the bus runs it off the event loop, counts it, and decides it again when it lost an
optimistic-concurrency race (it saved nothing, so the fresh state decides).

Chat messages are registered with an async handler (the group commit), which the bus
awaits as it is: batching, not a thread per command, is what makes them fast."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from domain.errors import ConcurrentChange

C = TypeVar("C")
R = TypeVar("R")

ATTEMPTS = 3  # a command decided three times on fresh state, then the conflict is the caller's


class NoHandler(LookupError):
    """A command nobody registered a handler for (a wiring mistake, never the client's)."""


class CommandBus:
    """Dispatches each command to its handler; also loads aggregates for the transports
    that must show one or check who may act (off the loop, as everything blocking)."""

    def __init__(self, *, on_command: Callable[[str], None] | None = None) -> None:
        self._handlers: dict[type, tuple[Callable[..., Any], tuple[Any, ...], str, bool]] = {}
        self._on_command = on_command

    def register(self, kind: type[C], handler: Callable[..., R], *args: Any) -> None:
        """`handler(command, *args)` runs each `kind` command."""
        if kind in self._handlers:
            raise ValueError(f"{kind.__name__} already has a handler")
        name = getattr(handler, "__name__", kind.__name__)
        # An async handler is a coroutine function, or an object whose call is one.
        is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            type(handler).__call__)
        self._handlers[kind] = (handler, args, name, is_async)

    def handles(self, kind: type) -> bool:
        return kind in self._handlers

    async def execute(self, command: Any) -> Any:
        """The handler's result (or its DomainError, raised)."""
        try:
            handler, args, name, is_async = self._handlers[type(command)]
        except KeyError:
            raise NoHandler(f"no handler for {type(command).__name__}") from None
        if is_async:  # the group commit: it counts its own batches
            return await handler(command, *args)
        if self._on_command is not None:
            self._on_command(name)
        return await retrying(handler, command, *args)


async def retrying(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Runs blocking `fn` off the event loop; a ConcurrentChange is decided again, a few
    times, after a short pause, before it reaches the caller."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ConcurrentChange:
            if attempt == ATTEMPTS:
                raise
            await asyncio.sleep(0.005 * attempt)
    raise AssertionError("unreachable")
