"""A command that loses an optimistic-concurrency race is decided again."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.errors import ConcurrentChange, Conflict
from entrypoints.bootstrap import Services
from tests.harness import embedded_settings


async def test_concurrent_change_is_retried_then_surfaces(tmp_path: Path) -> None:
    services = Services(embedded_settings(tmp_path))
    try:
        calls: list[int] = []

        def flaky(fail_times: int) -> str:
            calls.append(1)
            if len(calls) <= fail_times:
                raise ConcurrentChange("lost the race")
            return "saved"

        assert await services.run(flaky, 2) == "saved"
        assert len(calls) == 3
        calls.clear()
        with pytest.raises(ConcurrentChange):
            await services.run(flaky, 5)
        assert len(calls) == 3

        def refused() -> None:
            calls.append(1)
            raise Conflict("a real conflict is not retried")

        calls.clear()
        with pytest.raises(Conflict):
            await services.run(refused)
        assert len(calls) == 1
    finally:
        services.close()
