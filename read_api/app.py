"""The Litestar application, built around a `Services` container."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from infra.bootstrap import Services
from read_api.auth import AuthController
from read_api.channels import ChannelController
from read_api.deps import provide_services
from read_api.errors import EXCEPTION_HANDLERS
from read_api.health import HealthController
from read_api.live import LiveHub
from read_api.messages import MessageController
from read_api.middleware import request_id_middleware
from read_api.socket import stream_socket
from read_api.streams import StreamController


def create_app(services: Services, *, announce: bool = False) -> Litestar:
    """The app; its lifespan starts and stops the workers `services` runs in this process."""
    hub = LiveHub()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await services.start(live=hub.dispatch)
        if announce:
            s = services.settings
            print(
                f"AeThex Live is up: http://{s.host}:{s.port}  (API docs: "
                f"http://{s.host}:{s.port}/schema)",
                file=sys.stdout,
                flush=True,
            )
        try:
            yield
        finally:
            await services.stop()

    app = Litestar(
        route_handlers=[
            AuthController,
            ChannelController,
            HealthController,
            MessageController,
            StreamController,
            stream_socket,
        ],
        dependencies={"services": Provide(provide_services)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_id_middleware],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(title="AeThex Live", version="0.1.0", path="/schema"),
        logging_config=None,
        debug=False,
    )
    app.state.services = services
    app.state.hub = hub
    return app
