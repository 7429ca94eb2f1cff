"""Shared fixtures: the app running for real in each mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import (
    LiveServer,
    drop_namespace,
    embedded_settings,
    new_namespace,
    production_settings,
    require_services,
    running,
)


@pytest.fixture(params=["embedded", "production"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """The whole service: embedded (SQLite, in-process bus) and production (PostgreSQL,
    RabbitMQ), each behind a real HTTP server."""
    if request.param == "embedded":
        with running(embedded_settings(tmp_path)) as live:
            yield live
        return
    require_services()
    namespace = new_namespace()
    try:
        with running(production_settings(tmp_path, namespace)) as live:
            yield live
    finally:
        drop_namespace(namespace)
