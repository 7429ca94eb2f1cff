"""The `aethex` command: serve, migrate, relay, project; the operators' and analysts'
commands (events, replay, projections) live in `cli_events` and `cli_projections`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import uvloop  # the workers' event loop, as uvicorn's for the API

from entrypoints import observability
from infra.observability.logging import configure_logging
from infra.runtime import heap, task_dump
from infra.settings import Settings, SettingsError, load_settings


def _serve(settings: Settings, processes: int = 1) -> int:
    import uvicorn

    from entrypoints.app import create_asgi
    from entrypoints.bootstrap import Services

    if processes > 1:
        # Each process builds its own services; the relay's lock and the projectors'
        # single-active-consumer queues keep one of each working at a time.
        if not (settings.database_url and settings.rabbitmq_url):
            print("aethex: --processes needs AETHEX_DATABASE_URL and AETHEX_RABBITMQ_URL "
                  "(the embedded store and bus live in one process)", file=sys.stderr)
            return 2
        Services(settings).close()  # create the schema and tables once, before the workers
        print(f"AeThex Live is up: http://{settings.host}:{settings.port}  "
              f"({processes} processes)", flush=True)
        uvicorn.run("entrypoints.asgi:create", factory=True, workers=processes, host=settings.host,
                    port=settings.port, log_config=None, access_log=False,
                    ws="websockets-sansio", lifespan="on", ws_per_message_deflate=False,
                    timeout_graceful_shutdown=5)
        return 0
    services = Services(settings)
    try:
        app = create_asgi(services, announce=True, settle_heap=True)
        server = uvicorn.Server(uvicorn.Config(
            app, host=settings.host, port=settings.port, log_config=None, access_log=False,
            ws="websockets-sansio", lifespan="on",
            ws_per_message_deflate=False,  # zlib per frame per viewer: too costly
            timeout_graceful_shutdown=5))

        async def serve() -> None:
            async def announce() -> None:
                # Once the socket listens (the app's start-up comes before it), so the URL
                # printed answers when followed.
                while not server.started:
                    if server.should_exit:
                        return
                    await asyncio.sleep(0.02)
                for line in getattr(app.litestar.state, "announcement", []):
                    print(line, flush=True)

            said = asyncio.create_task(announce())
            try:
                await server.serve()
            finally:
                said.cancel()

        uvloop.run(serve())
    finally:
        services.close()
    return 0


def _migrate(settings: Settings) -> int:
    from entrypoints.bootstrap import Services

    services = Services(settings)  # creating the services creates every table
    where = (f"PostgreSQL schema {settings.namespace}" if settings.production
             else settings.data_dir)
    print(f"migrated: event store and read models ({where})")
    services.close()
    return 0


async def _run_workers(settings: Settings, workers: list[str]) -> None:
    from entrypoints.bootstrap import Services
    from entrypoints.worker_health import HealthServer

    services = Services(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    task_dump.install(loop)  # kill -USR1: where each task waits, in the log
    # The orchestrator's liveness probe (and /metrics) for a process that has no API.
    health = (HealthServer(services, settings.host, settings.health_port)
              if settings.health_port else None)
    try:
        await services.start(workers=workers)
        if health is not None:
            await health.start()
        heap.settle()
        await stop.wait()
    finally:
        if health is not None:
            await health.close()
        await services.stop()
        services.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aethex", description="AeThex Live backend")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="API, WebSocket and (by AETHEX_WORKERS) the workers")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--processes", type=int, default=1,
                       help="API processes sharing the port (production mode only)")
    sub.add_parser("migrate", help="create the event store and read-model tables")
    sub.add_parser("relay", help="run the relay: event store -> bus")
    sub.add_parser("webhooks", help="run the webhook sender: event log -> receivers")
    sub.add_parser("media", help="run the media workers: whole-stream VODs, live thumbnails")
    sub.add_parser("product-events",
                   help="run the product-events worker: event log -> PostHog")
    project = sub.add_parser("project", help="run projectors (all, or the named ones)")
    project.add_argument("names", nargs="*")
    from entrypoints import cli_analytics, cli_events, cli_projections, probe  # operators, analysts

    cli_events.add_parsers(sub)
    cli_projections.add_parsers(sub)
    cli_analytics.add_parsers(sub)
    probe.add_parser(sub)
    args = parser.parse_args(argv)

    try:
        settings = load_settings(host=getattr(args, "host", None), port=getattr(args, "port", None))
    except SettingsError as e:
        print(f"aethex: {e}", file=sys.stderr)
        return 2
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    role = _ROLES.get(args.command)
    if role is not None:
        observability.start(settings, role)
    try:
        return _dispatch(args, settings)
    except SettingsError as e:  # found while building the services (a missing key)
        print(f"aethex: {e}", file=sys.stderr)
        return 2
    finally:
        if role is not None:
            observability.stop()


# The processes that report errors and traces, by command, and the name each reports as.
_ROLES = {"serve": "api", "relay": "relay", "project": "projector", "webhooks": "webhooks",
          "product-events": "product-events"}


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        return _serve(settings, args.processes)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "relay":
        uvloop.run(_run_workers(settings, ["relay"]))
        return 0
    if args.command == "webhooks":
        uvloop.run(_run_workers(settings, ["webhooks"]))
        return 0
    if args.command == "media":
        uvloop.run(_run_workers(settings, ["vod_publisher", "thumbnailer"]))
        return 0
    if args.command == "product-events":
        if not settings.posthog_key:
            print("aethex: product-events needs AETHEX_POSTHOG_KEY", file=sys.stderr)
            return 2
        uvloop.run(_run_workers(settings, ["product_events"]))
        return 0
    if getattr(args, "run", None) is not None:  # events, replay, projections
        return int(args.run(settings, args))
    from projections.registry import all_projections

    known = [p.name for p in all_projections()]
    names = args.names or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        print(f"aethex: unknown projection(s) {', '.join(unknown)}; known: {', '.join(known)}",
              file=sys.stderr)
        return 2
    uvloop.run(_run_workers(settings, [f"projector:{n}" for n in names]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
