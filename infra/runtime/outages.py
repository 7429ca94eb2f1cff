"""Which failures mean a backing service is away for a moment (PostgreSQL restarting, the
broker or Redis reconnecting, SQLite busy), as opposed to a bug in our code.

Transports answer an outage with "try again" (HTTP 503 with `Retry-After`, a socket's
`chat:error unavailable`) and log it as a warning; anything else stays an internal error,
logged with its traceback. Nothing already accepted is affected either way: a command that
failed was not stored, and its caller is told so."""

from __future__ import annotations

import sqlite3

import aio_pika.exceptions
import eventsourcing.persistence as es
import psycopg
import psycopg_pool
import redis.exceptions

_OUTAGES: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,  # the server went away, refused, or was shut down
    psycopg.InterfaceError,  # a connection that was closed under us
    psycopg_pool.PoolTimeout,  # no connection could be had in time
    es.OperationalError,  # the event store's own wrappers of the above
    es.InterfaceError,
    es.ConnectionUnavailableError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    aio_pika.exceptions.AMQPConnectionError,
    aio_pika.exceptions.ChannelInvalidStateError,
    ConnectionError,  # sockets reset or refused, and our own broker errors (ConsumerBroken)
)


def is_outage(exc: BaseException) -> bool:
    """True when `exc`, or an error it was raised from (`raise ... from`), is a service
    being unavailable. An error raised while handling one (an implicit context) is not:
    that is a bug in the handling."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, _OUTAGES):
            return True
        if isinstance(current, sqlite3.OperationalError) and (
                "locked" in str(current) or "busy" in str(current)):
            return True
        current = current.__cause__
        seen += 1
    return False
