"""The Litestar application, and beside it the Socket.IO server, around `Services`."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import socketio
from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from entrypoints.bootstrap import Services
from infra.eventstore.envelope import EventBatch
from infra.observability import sentry
from infra.runtime import heap, task_dump
from infra.shared_state.rate_limit import LoginThrottle
from infra.web.client_files import INSTALL_HINT, WebClientFiles
from infra.web.ws_direct import capture_send
from projections.stream_status import current_stream_of, get_stream
from read_api.admin import AdminController
from read_api.analytics import AdminAnalyticsController, ChannelAnalyticsController
from read_api.auth import AuthController
from read_api.channel_follows import ChannelFollowController, SubscriptionController
from read_api.channel_images import ChannelImageController
from read_api.channels import ChannelController
from read_api.chat_gateway import ChatGateway
from read_api.chatters import ChatterController
from read_api.cors import cors_middleware
from read_api.deps import app_dependencies
from read_api.discovery import DISCOVERY_ROUTES
from read_api.errors import EXCEPTION_HANDLERS
from read_api.health import HealthController
from read_api.http_cache import http_cache_middleware
from read_api.ignores import IgnoreController
from read_api.ingest import IngestController, StreamingConfigController
from read_api.integrations import INTEGRATION_ROUTES
from read_api.live import LiveHub
from read_api.messages import MessageController
from read_api.metrics import latency_middleware, metrics_endpoint
from read_api.middleware import request_id_middleware
from read_api.moderation import ModerationController
from read_api.openapi import openapi_extras
from read_api.realtime.feed import LiveFeed
from read_api.reports import ChannelReportController, ReportController
from read_api.requests import AppRequest
from read_api.socket import chat_socket, stream_socket
from read_api.socketio_transport import create_socketio
from read_api.stream_aliases import StreamAliasController
from read_api.streams import StreamController
from read_api.uploads import UploadController, UploadFiles
from read_api.users import ProfileController, UserController
from read_api.web_client import (
    content_security_policy,
    docs_plugins,
    head_as_get_middleware,
    security_headers_middleware,
    web_client_router,
)
from read_api.webhooks.clerk import ClerkWebhookController
from read_api.webhooks.cloudflare import CloudflareWebhooks
from read_api.webhooks.mux import MuxWebhooks
from read_api.webhooks.nginx_rtmp import NginxRtmpHooks
from workers.chat_refusal_recorder import ChatRefusalRecorder
from workers.presence_sampler import PresenceSampler

IDENTITY_ROUTES = [ProfileController, UserController, ChannelFollowController,
                   SubscriptionController, UploadController, UploadFiles, ClerkWebhookController]
INGEST_ROUTES = [IngestController, StreamingConfigController, NginxRtmpHooks, MuxWebhooks,
                 CloudflareWebhooks]


def node_id(services: Services) -> str:
    return services.settings.node_id or f"{socket.gethostname()}-{os.getpid()}"


def create_app(services: Services, *, announce: bool = False, settle_heap: bool = False,
               ) -> Litestar:
    """The app; its lifespan starts and stops the workers `services` runs in this process,
    the presence heartbeat and the viewer-count sampler. `settle_heap` (a process's entry
    point) freezes the start-up heap once everything has started (infra/runtime/heap.py)."""
    settings = services.settings
    hub = LiveHub(coalesce_s=settings.ws_coalesce_ms / 1000.0,
                  writes_per_s=settings.ws_room_writes_per_s or None)
    gateway = ChatGateway(services, hub)
    feed = LiveFeed(
        services.bus, gateway.deliver,
        read_stream=lambda stream_id: services.run(get_stream, services.db, stream_id),
        wait_for_stream=lambda position: services.positions.wait(
            ("stream_status",), position, settings.read_wait_timeout_s),
        has_room=lambda stream_id: stream_id in hub.rooms,
        stream_of_channel=lambda channel_id: services.run(current_stream_of, services.db,
                                                          channel_id),
        history_size=settings.chat_history_size)
    gateway.recent = feed.recent
    sampler = PresenceSampler(services, node_id(services))
    web_files = WebClientFiles(settings.web_dir or None)
    refusals = ChatRefusalRecorder(services.store, services.refusals, node=node_id(services),
                                   every_s=settings.chat_refusals_flush_s)
    services.positions.bind_head(services.store.head)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        # Commands, queries and workers all run blocking work in threads: the default pool
        # (cores + 4) would queue them behind each other.
        loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="aethex"))
        await services.start(live=feed.on_live)
        await feed.start(services.supervisor)
        forget = getattr(services.authenticator, "forget", None)
        if forget is not None:
            async def on_user_events(batch: EventBatch) -> None:
                # A deletion (or rename) another node applied: checked again on next use.
                for event in batch.events:
                    forget(event.aggregate_id)

            await services.bus.subscribe_events(["User.#"], on_user_events)

        def on_commit(results: list[Any]) -> None:  # group commit's finisher, per batch
            loop.call_soon_threadsafe(feed.committed, results)

        services.chat_listeners.append(on_commit)
        app.state.loop = loop
        task_dump.install(loop)  # kill -USR1: where each task waits, in the log
        services.spawn("presence-heartbeat", gateway.heartbeat)
        services.spawn("viewer-sampler", sampler.run)
        services.spawn(refusals.name, refusals.run)  # wherever chat is served
        if settle_heap:
            heap.settle()
        if announce:  # printed by `aethex serve` once the server listens
            s = services.settings
            app.state.announcement = [f"AeThex Live is up: http://{s.host}:{s.port}  (API docs: "
                                      f"http://{s.host}:{s.port}/schema)"]
            if web_files.missing():
                app.state.announcement.append(
                    f"AeThex Live: the pages and the API docs page need their browser "
                    f"packages: {INSTALL_HINT}; the API works without them")
        try:
            yield
        finally:
            services.chat_listeners.remove(on_commit)
            await feed.stop()
            await services.stop()  # the heartbeat, the sampler and the workers

    app = Litestar(
        route_handlers=[AuthController, ChannelController, HealthController, MessageController,
                        StreamController, chat_socket, stream_socket,
                        StreamAliasController, ChannelImageController,  # plan names, art
                        AdminController, metrics_endpoint,  # operators
                        AdminAnalyticsController, ChannelAnalyticsController,  # analysts
                        *IDENTITY_ROUTES,  # identity, uploads, social
                        *INGEST_ROUTES,  # going live
                        ModerationController, ReportController,  # moderation
                        ChannelReportController, IgnoreController,
                        *INTEGRATION_ROUTES,  # webhooks, bot tokens
                        ChatterController, *DISCOVERY_ROUTES,  # after the controllers
                        web_client_router(web_files)],  # the pages, their assets
        dependencies=app_dependencies(services),
        exception_handlers=EXCEPTION_HANDLERS,
        # The request id is not here but around the whole app (`create_asgi`): answers
        # the router gives itself (404, 405) never reach route middleware.
        # Each GET route's caching policy (ETag and 304s, Cache-Control): read_api/http_cache.py.
        middleware=[latency_middleware, http_cache_middleware],
        request_class=AppRequest,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(title="AeThex Live", version="0.1.0", path="/schema",
                                     render_plugins=docs_plugins(web_files),
                                     **openapi_extras()),
        logging_config=None,
        debug=False,
    )
    app.state.services = services
    app.state.hub = hub
    app.state.gateway = gateway
    app.state.feed = feed
    app.state.sampler = sampler
    app.state.web_files = web_files
    app.state.refusals = refusals
    app.state.login_throttle = LoginThrottle(
        settings.login_failures_per_account, settings.login_failures_per_address,
        settings.redis_url, settings.namespace)
    return app


def create_asgi(services: Services, *, announce: bool = False, settle_heap: bool = False,
                ) -> Any:
    """Socket.IO at /socket.io/, everything else (and the lifespan) to Litestar."""
    app = create_app(services, announce=announce, settle_heap=settle_heap)
    sio = create_socketio(app.state.gateway, services.authenticator,
                          services.settings.cors_origins)
    app.state.sio = sio
    # CORS inside the request id: a preflight answered by it carries an id too; the pages'
    # headers (CSP) on every HTML answer, the router's own included.
    # HEAD on a page or its files answers as GET does, without the body.
    pages = security_headers_middleware(head_as_get_middleware(app),
                                        content_security_policy(services.settings))
    http = request_id_middleware(cors_middleware(pages, services.settings.cors_origins))
    http = sentry.around_asgi(http)  # the request on each error reported (when reporting)
    asgi = capture_send(socketio.ASGIApp(sio, other_asgi_app=http, socketio_path="socket.io"))
    asgi.litestar = app  # type: ignore[attr-defined]
    return asgi
