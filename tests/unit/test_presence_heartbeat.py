"""The presence heartbeat under the supervisor: a presence store that fails (Redis away)
ends the run, so the failure is counted and the heartbeat starts again, and beats again
once the store answers."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from infra.runtime.supervisor import Supervisor
from infra.shared_state.presence import MemoryPresence
from read_api.chat_gateway import ChatGateway
from read_api.live import LiveHub


class FlakyPresence(MemoryPresence):
    """Fails its first `failures` refreshes, then works; counts the refreshes that worked."""

    def __init__(self, failures: int) -> None:
        super().__init__(30.0)
        self.failures = failures
        self.refreshed = 0

    async def refresh(self, members: object) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("presence store unreachable")
        self.refreshed += 1


async def test_a_failing_heartbeat_is_counted_and_beats_again() -> None:
    presence = FlakyPresence(failures=2)
    services = SimpleNamespace(settings=SimpleNamespace(presence_heartbeat_s=0.01,
                                                        ws_max_queue=10),
                               presence=presence, rate_limiter=None, refusals=None)
    gateway = ChatGateway(services, LiveHub())  # type: ignore[arg-type]
    session = gateway.open(None)
    session.stream_id = "s1"  # a member to keep alive
    supervisor = Supervisor(backoff_initial_s=0.01, backoff_max_s=0.02)
    stopping = supervisor.stopping
    task = supervisor.spawn("presence-heartbeat", lambda: gateway.heartbeat(stopping))
    try:
        async with asyncio.timeout(5):
            while presence.refreshed < 2:
                await asyncio.sleep(0.01)
    finally:
        await supervisor.stop()
    assert task.failures == 2
    assert "presence store unreachable" in (task.last_error or "")
