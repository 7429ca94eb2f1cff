"""One process at a time creates or checks the schema of a namespace.

API nodes, the relay and the projectors start together (docker-compose.yml starts them all
once `migrate` has finished) and each makes sure its tables exist. PostgreSQL does not make
concurrent DDL safe: two `CREATE OR REPLACE FUNCTION`s of the event store's insert function
fail one of them with "tuple concurrently updated", and two `CREATE SCHEMA IF NOT EXISTS`
can both pass the check. A session advisory lock, held only while the tables are created,
makes the processes take turns. The embedded mode (one process, SQLite) needs no lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from infra.settings import Settings, postgres_params


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    if not settings.database_url:
        yield
        return
    key = f"{settings.namespace}.schema"
    with psycopg.connect(**postgres_params(settings.database_url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
