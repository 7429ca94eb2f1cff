"""The `aethex` command: serve, migrate, relay, project; the operators' and analysts'
commands (events, replay, projections) live in `cli_events` and `cli_projections`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import uvloop  # the workers' event loop, as uvicorn's for the API

from infra.observability.logging import configure_logging
from infra.runtime import heap
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
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                    access_log=False, ws="websockets-sansio", lifespan="on",
                    ws_per_message_deflate=False,  # zlib per frame per viewer: too costly
                    timeout_graceful_shutdown=5)
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
    project = sub.add_parser("project", help="run projectors (all, or the named ones)")
    project.add_argument("names", nargs="*")
    from entrypoints import cli_analytics, cli_events, cli_projections  # operators, analysts

    cli_events.add_parsers(sub)
    cli_projections.add_parsers(sub)
    cli_analytics.add_parsers(sub)
    args = parser.parse_args(argv)

    try:
        settings = load_settings(host=getattr(args, "host", None), port=getattr(args, "port", None))
    except SettingsError as e:
        print(f"aethex: {e}", file=sys.stderr)
        return 2
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    if args.command == "serve":
        return _serve(settings, args.processes)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "relay":
        uvloop.run(_run_workers(settings, ["relay"]))
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
