"""What counts as a backing service being away (answered "try again") and what is a bug."""

from __future__ import annotations

import sqlite3

import eventsourcing.persistence as es
import psycopg
import psycopg_pool
import redis.exceptions

from infra.runtime.outages import is_outage


def test_services_away_are_outages() -> None:
    for exc in (psycopg.OperationalError("server closed the connection"),
                psycopg_pool.PoolTimeout("no connection in 0.3 s"),
                es.OperationalError("wrapped"), redis.exceptions.ConnectionError("refused"),
                ConnectionResetError(), sqlite3.OperationalError("database is locked")):
        assert is_outage(exc), exc


def test_an_error_raised_from_an_outage_is_one() -> None:
    try:
        try:
            raise psycopg.OperationalError("terminating connection")
        except psycopg.OperationalError as e:
            raise RuntimeError("the batch failed") from e
    except RuntimeError as wrapped:
        assert is_outage(wrapped)


def test_bugs_are_not_outages() -> None:
    for exc in (KeyError("id"), TypeError("x"), sqlite3.OperationalError("no such table: t"),
                psycopg.errors.UndefinedTable("relation does not exist")):
        assert not is_outage(exc), exc
    # A bug made while handling an outage (an implicit context, not `from`) stays a bug.
    try:
        try:
            raise psycopg.OperationalError("gone")
        except psycopg.OperationalError:
            raise KeyError("oops")  # noqa: B904
    except KeyError as bug:
        assert not is_outage(bug)
