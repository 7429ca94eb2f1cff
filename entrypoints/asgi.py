"""The ASGI application built from the environment, for servers that start their own
worker processes (`aethex serve --processes N`, or uvicorn/gunicorn directly:
`uvicorn --factory entrypoints.asgi:create`)."""

from __future__ import annotations

import atexit
from typing import Any

from entrypoints import observability
from infra.observability.logging import configure_logging
from infra.settings import load_settings


def create() -> Any:
    """One process's app: its own services, closed when the process exits."""
    from entrypoints.app import create_asgi
    from entrypoints.bootstrap import Services

    settings = load_settings()
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    observability.start(settings, "api")
    services = Services(settings)
    atexit.register(observability.stop)
    atexit.register(services.close)
    return create_asgi(services, settle_heap=True)
