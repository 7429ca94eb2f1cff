"""Starting and stopping what a process reports (errors to Sentry, traces over OTLP), and
the traced forms of the command bus and the chat group commit, picked by the composition
root only when tracing is on, so the chat path is untouched when it is off."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from commands.bus import CommandBus
from commands.group_commit import GroupCommitter
from commands.ports import Begun
from infra.observability import tracing
from infra.observability.sentry import start_sentry, stop_sentry
from infra.settings import Settings

C = TypeVar("C")
R = TypeVar("R")


def start(settings: Settings, role: str) -> None:
    """Turns on what the settings configure, for a process playing `role` (`api`,
    `relay`, `projector`, `webhooks`, `product-events`)."""
    start_sentry(settings, role)
    tracing.start_tracing(settings, role)


def stop() -> None:
    """Flushes what is buffered (a worker stopping by signal must not lose its last spans
    or errors)."""
    tracing.stop_tracing()
    stop_sentry()


def trace_commands(bus: CommandBus, *, batched: tuple[type, ...] = ()) -> CommandBus:
    """Each command in a span of its own, around its handler (and its retries); `batched`
    commands are decided in a batch whose span is their handler's (the group commit), so
    a span of their own would only double the cost of a chat message's trace."""
    execute = bus.execute

    async def traced(command: Any) -> Any:
        if type(command) in batched:
            return await execute(command)
        with tracing.span(f"command {type(command).__name__}"):
            return await execute(command)

    bus.execute = traced  # type: ignore[method-assign]
    return bus


class TracedGroupCommitter(GroupCommitter[C, R]):
    """The group commit, with each batch in a span: the child of its first command's
    context and linked to the others', current while the batch is decided and saved, so
    the stored events carry it (`tracing.stamp`) and the live push is its child."""

    MAX_PENDING = 100_000  # contexts of commands whose callers gave up are dropped now and then

    def __init__(self, run_batch: Callable[[list[C]], Sequence[R | BaseException]],
                 **kwargs: Any) -> None:
        self._origins: dict[int, str] = {}
        super().__init__(self._traced(run_batch), **kwargs)

    def _remember(self, command: C) -> None:
        tp = tracing.current()
        if tp is not None:
            if len(self._origins) >= self.MAX_PENDING:
                self._origins.clear()
            self._origins[id(command)] = tp  # the command is queued, so its id is unique

    def enqueue(self, command: C) -> Any:
        self._remember(command)
        return super().enqueue(command)

    def submit(self, command: C) -> Any:
        self._remember(command)
        return super().submit(command)

    def _traced(self, run_batch: Callable[[list[C]], Any]) -> Callable[[list[C]], Any]:
        def run(commands: list[C]) -> Any:
            parents = [self._origins.pop(id(c), None) for c in commands]
            with tracing.span("group commit", parents=parents,
                              attributes={"aethex.batch": len(commands)}):
                outcome = run_batch(commands)
                batch = tracing.current()
            if not callable(outcome):
                return outcome

            def finish() -> Any:  # on the finishing thread, still within the batch
                with tracing.within(batch):
                    return outcome()
            return Begun(finish, ready=getattr(outcome, "ready", False))
        return run
