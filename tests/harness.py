"""Test harness: settings for the embedded and the production mode (real PostgreSQL,
RabbitMQ and Redis, in a namespace of their own), and a real uvicorn server on a free port."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
import uvicorn

from entrypoints.app import create_asgi
from entrypoints.bootstrap import Services
from infra.settings import Settings, load_settings, postgres_params
from projections.registry import all_projections

DATABASE_URL = os.environ.get("AETHEX_TEST_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("AETHEX_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("AETHEX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_KEY = "test-secret-key-0123456789-abcdef"
WEBHOOK_KEY = "test-webhook-key-0123456789-abcdef"
REQUIRED = os.environ.get("AETHEX_REQUIRE_SERVICES", "") not in ("", "0", "false")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _redis_answers() -> bool:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


_all_found = False  # once every service answered, later tests need not ask again


def _missing_services() -> list[str]:
    global _all_found
    if _all_found:
        return []
    pg = postgres_params(DATABASE_URL)
    amqp = httpx.URL(RABBITMQ_URL.replace("amqp://", "http://", 1))
    probes = (("PostgreSQL", lambda: _reachable(pg["host"], int(pg["port"]))),
              ("RabbitMQ", lambda: _reachable(amqp.host, amqp.port or 5672)),
              ("Redis", _redis_answers))
    missing = [name for name, answers in probes if not answers()]
    _all_found = not missing
    return missing


def require_services() -> None:
    """Production-mode tests need PostgreSQL, RabbitMQ and Redis: a missing one fails
    the test under AETHEX_REQUIRE_SERVICES=1 (CI), and skips it on a machine without it
    otherwise."""
    missing = _missing_services()
    if missing:
        message = f"services unreachable: {', '.join(missing)}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)


def new_namespace() -> str:
    return "t_" + uuid.uuid4().hex[:12]


def embedded_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return load_settings({}, data_dir=str(tmp_path / "var"), jwt_secret=TEST_KEY, **overrides)


def production_settings(tmp_path: Path, namespace: str, **overrides: Any) -> Settings:
    """The production topology: PostgreSQL, RabbitMQ and Redis (presence, rate limits,
    slow mode), all in `namespace`, so tests running side by side never meet."""
    values: dict[str, Any] = {
        "data_dir": str(tmp_path / "var"), "database_url": DATABASE_URL,
        "rabbitmq_url": RABBITMQ_URL, "redis_url": REDIS_URL, "namespace": namespace,
        "jwt_secret": TEST_KEY, "webhook_secret_key": WEBHOOK_KEY}
    return load_settings({}, **{**values, **overrides})


@contextmanager
def fresh_production(tmp_path: Path, **overrides: Any) -> Iterator[Settings]:
    """Production settings in a namespace of their own (services required), dropped after."""
    require_services()
    namespace = new_namespace()
    try:
        yield production_settings(tmp_path, namespace, **overrides)
    finally:
        drop_namespace(namespace)


def production_env(namespace: str, **variables: str) -> dict[str, str]:
    """The environment of a production-mode process (`aethex serve`, `project`, ...):
    this one's, with PostgreSQL, RabbitMQ and Redis in `namespace`, and `variables`."""
    return {**os.environ, "AETHEX_DATABASE_URL": DATABASE_URL,
            "AETHEX_RABBITMQ_URL": RABBITMQ_URL, "AETHEX_REDIS_URL": REDIS_URL,
            "AETHEX_NAMESPACE": namespace, "AETHEX_WEBHOOK_SECRET_KEY": WEBHOOK_KEY,
            **variables}


def redis_keys(namespace: str) -> list[str]:
    """Every Redis key of a namespace (presence, leases, rate limits, slow mode)."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=f"{namespace}:*", count=1000))
    finally:
        client.close()


def drop_namespace(namespace: str) -> None:
    """Removes a test's PostgreSQL schema, its RabbitMQ exchanges and queues, and its
    Redis keys."""
    with psycopg.connect(**postgres_params(DATABASE_URL), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            psycopg.sql.Identifier(namespace)))

    async def clean_amqp() -> None:
        import aio_pika

        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            for name in [*(p.name for p in all_projections()), "counter"]:
                await channel.queue_delete(f"{namespace}.projector.{name}")
            for exchange in ("events", "live"):
                await channel.exchange_delete(f"{namespace}.{exchange}")

    # Run on a loop of its own: the caller may be inside a running event loop.
    worker = threading.Thread(target=asyncio.run, args=(clean_amqp(),))
    worker.start()
    worker.join(30)

    keys = redis_keys(namespace)
    if keys:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            client.delete(*keys)
        finally:
            client.close()


def free_port() -> int:
    """A loopback port nothing listens on now (for servers started as processes)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_processes(*procs: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Asks each process to stop (SIGTERM) and waits; kills any that outstays `timeout`."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class LiveServer:
    """The real app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.app = create_asgi(services)
        self.config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_config=None,
                                     access_log=False, ws="websockets-sansio", lifespan="on",
                                     ws_per_message_deflate=False)  # as `aethex serve`
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        sock = self.server.servers[0].sockets[0]
        self.port = sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@contextmanager
def running(settings: Settings) -> Iterator[LiveServer]:
    services = Services(settings)
    server = LiveServer(services)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        services.close()


@contextmanager
def serving(mode: str, tmp_path: Path, **overrides: Any) -> Iterator[LiveServer]:
    """The whole service on `mode`: "embedded" (SQLite, in-process bus, memory) or
    "production" (PostgreSQL, RabbitMQ and Redis in a namespace of its own, dropped
    afterwards)."""
    if mode == "embedded":
        with running(embedded_settings(tmp_path, **overrides)) as live:
            yield live
        return
    require_services()
    namespace = new_namespace()
    try:
        with running(production_settings(tmp_path, namespace, **overrides)) as live:
            yield live
    finally:
        drop_namespace(namespace)
