"""Shared fixtures: the app running for real in each mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import LiveServer, serving


@pytest.fixture(params=["embedded", "production"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """The whole service: embedded (SQLite, in-process bus) and production (PostgreSQL,
    RabbitMQ), each behind a real HTTP server."""
    with serving(request.param, tmp_path) as live:
        yield live
