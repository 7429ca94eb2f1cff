"""The library's PostgreSQL recorder, appending a large batch of events by binary COPY.

The library inserts a batch as one `INSERT ... SELECT FROM unnest(%s::stored_event[])`:
psycopg builds that array of composite values in Python, value by value, which cost as
much as the rest of a group-commit batch. COPY in binary format moves the same rows with
psycopg's C row writer, and the server parses less. Everything else stays the library's:
the table, the exclusive table lock that makes commit order the log's order, the NOTIFY
the relay listens for, the error translation (a duplicate `(originator_id,
originator_version)` is its `IntegrityError`: optimistic concurrency as before), and its
INSERT for small batches, where COPY's extra round trips would cost more than they save.

COPY cannot return the positions it assigned, so the batch reserves them first: under the
lock, `setval` moves the log's sequence past the batch in one statement, and the rows are
written with those positions explicitly. Anything that draws from the sequence (the
library's INSERT, the next batch) draws past them.

A large batch can also be saved in two steps (`start_insert_events`): the rows are written
on one thread, and another waits for the server to take them and commits, while the first
goes on with other work (the group commit decides its next batch). The lock is held from
the reservation to the COMMIT, as before; the next batch's lock waits behind it.

A small batch is the library's INSERT, sent with its BEGIN, lock, NOTIFY and COMMIT in one
round trip. The library sends the COMMIT only once the INSERT's answer is back, so the
table lock stays held while the client is off the CPU: a process at low priority on a busy
machine (the webhook sender, recording its attempts) then kept every other writer, chat
included, waiting for as long as the scheduler left it waiting. Sent together, the lock is
held for the server's own work only, whoever the client is.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from eventsourcing.utils import retry
from psycopg import Connection
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier, Literal

from commands.ports import Begun

# A row of the log as `select_rows` gives it: position, aggregate id (as text), version,
# topic, state.
Row = tuple[int, str, int, str, bytes]


# The library retries each of its statements ten times (and its insert inside ours): a
# request waiting on a database that is away would wait for minutes. Ours are tried three
# times (a pooled connection the server closed is replaced by the second): the caller hears
# of an outage in seconds (HTTP 503), and background workers retry under their supervisor.
ATTEMPTS = 3
_retrying = retry((InterfaceError, OperationalError), max_attempts=ATTEMPTS, wait=0.2)
_library_insert = PostgresApplicationRecorder.insert_events.__wrapped__  # type: ignore[attr-defined]


class CopyingRecorder(PostgresApplicationRecorder):
    """`PostgresApplicationRecorder` with COPY for batches of `copy_from` events or more
    (see the module docstring). Selected by `APPLICATION_RECORDER_TOPIC`."""

    # Below this, COPY's extra round trips (the COPY itself, the COMMIT) cost more than the
    # rows it saves: a batch of a few hundred saves a millisecond of Python, a round trip on
    # a busy machine costs as much.
    copy_from = 256

    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        table = SQL("{}.{}").format(Identifier(datastore.schema),
                                    Identifier(events_table_name))
        qualified = f'"{datastore.schema}"."{events_table_name}"'
        sequence = SQL("pg_get_serial_sequence({}, 'notification_id')").format(
            Literal(qualified))
        # The first position of a batch of n: the sequence moved past all n at once.
        self._reserve = SQL("SELECT setval({seq}, nextval({seq}) + %s - 1) - %s + 1 AS first"
                            ).format(seq=sequence)
        self._copy = SQL("COPY {} (notification_id, originator_id, originator_version, "
                         "topic, state) FROM STDIN (FORMAT BINARY)").format(table)
        self._id_type = "uuid" if datastore.originator_id_type == "uuid" else "text"
        columns = SQL("SELECT notification_id, originator_id::text, originator_version, "
                      "topic, state FROM {} WHERE notification_id > %s AND "
                      "notification_id <= %s").format(table)
        self._select_all = columns + SQL(" ORDER BY notification_id LIMIT %s")
        self._select_topics = columns + SQL(" AND topic = ANY(%s) ORDER BY notification_id "
                                            "LIMIT %s")

    # The library's reads, retried our way (loading and fast-forwarding aggregates, the
    # log's head, the notification log).
    select_events = _retrying(PostgresApplicationRecorder.select_events.__wrapped__)  # type: ignore[attr-defined]
    select_notifications = _retrying(
        PostgresApplicationRecorder.select_notifications.__wrapped__)  # type: ignore[attr-defined]
    max_notification_id = _retrying(
        PostgresApplicationRecorder.max_notification_id.__wrapped__)  # type: ignore[attr-defined]

    @_retrying
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        n = len(stored_events)
        if self.datastore.enable_db_functions or not n:
            return _library_insert(self, stored_events, **kwargs)
        if n < self.copy_from:
            return self._insert_in_one_trip(stored_events)
        return self._start_copy(stored_events).finish()

    def start_insert_events(self, stored_events: Sequence[StoredEvent],
                            ) -> Begun[Sequence[int]]:
        """`insert_events` in two steps: this one sends everything of a large batch but
        the end of its COPY and waits for nothing but the lock; the function it returns
        waits for the server to take the rows, commits, and gives the positions. In
        between, the caller's thread may do other work (the group commit decides its next
        batch) while the server works. A small batch is inserted here, whole."""
        n = len(stored_events)
        if self.datastore.enable_db_functions or n < self.copy_from:
            return Begun.done(self.insert_events(stored_events) or [])
        copying = _retrying(self._start_copy)(stored_events)

        def finish() -> Sequence[int]:
            try:
                return copying.finish()
            except (InterfaceError, OperationalError):
                # The connection broke before the answer: nothing is committed that the
                # server could not say, so the batch goes again, the usual way (a
                # duplicate, if the COMMIT did land, fails as any duplicate does).
                return self.insert_events(stored_events) or []
        return Begun(finish)

    def _start_copy(self, stored_events: Sequence[StoredEvent]) -> _Copying:
        """BEGIN, the lock, the NOTIFY and the reservation in one round trip, then every
        row written; cleaned up (rolled back, the connection returned) if any of it
        fails."""
        n = len(stored_events)
        stack = contextlib.ExitStack()
        conn: Connection[Any] = stack.enter_context(self.datastore.get_connection())
        try:
            curs = stack.enter_context(conn.cursor())
            # BEGIN in the pipeline, with the lock, the NOTIFY and the reservation: one
            # round trip before the COPY, as the library's INSERT takes one.
            with conn.pipeline():
                curs.execute("BEGIN")
                self._lock_table(curs)
                self._notify_channel(curs)
                curs.execute(self._reserve, (n, n), prepare=True)
            row = curs.fetchone()
            assert row is not None
            first: int = row["first"]
            copying = curs.copy(self._copy)
            copy = copying.__enter__()
            try:
                copy.set_types(["int8", self._id_type, "int8", "text", "bytea"])
                write = copy.write_row
                for position, e in enumerate(stored_events, first):
                    write((position, e.originator_id, e.originator_version, e.topic,
                           e.state))
            except BaseException:
                copying.__exit__(*sys.exc_info())
                raise
        except BaseException:
            _abandon(stack, conn)
            raise
        return _Copying(stack, conn, curs, copying, list(range(first, first + n)))

    def _insert_in_one_trip(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        """The library's INSERT ... RETURNING, in a transaction sent whole before any answer
        is read (see the module docstring). An error (a duplicate version, the lock's
        timeout) skips the rest of the pipeline, the COMMIT included: the transaction is
        rolled back here and the error goes up as the library's."""
        with self.datastore.get_connection() as conn:
            try:
                with conn.pipeline() as pipeline, conn.cursor() as curs, \
                        conn.cursor() as inserted:
                    curs.execute("BEGIN")
                    self._lock_table(curs)
                    self._notify_channel(curs)
                    PostgresAggregateRecorder._insert_stored_events(self, inserted,
                                                                    stored_events)
                    curs.execute("COMMIT")
                    pipeline.sync()  # the one round trip: sent, then every answer read
                    ids = self._fetch_ids_after_insert_events(inserted, stored_events)
            except BaseException:
                _roll_back(conn)
                raise
        assert ids is not None and len(ids) == len(stored_events)
        return list(ids)

    @_retrying
    def select_rows(self, after: int, upto: int, limit: int,
                    topics: Sequence[str] = ()) -> list[Row]:
        """The log's rows in `(after, upto]`, at most `limit`, optionally of `topics` only:
        plain tuples in binary format, without the `Notification` object and dict row the
        library makes of each (a third of reading the log)."""
        with self.datastore.get_connection() as conn, \
                conn.cursor(binary=True, row_factory=tuple_row) as curs:
            if topics:
                curs.execute(self._select_topics, (after, upto, list(topics), limit),
                             prepare=True)
            else:
                curs.execute(self._select_all, (after, upto, limit), prepare=True)
            return curs.fetchall()


class _Copying:
    """A COPY whose rows are all written: `finish` ends it, commits, and returns the
    connection to the pool, from any thread (the one that started it does not touch it
    again)."""

    def __init__(self, stack: contextlib.ExitStack, conn: Connection[Any], curs: Any,
                 copying: Any, positions: list[int]) -> None:
        self._stack, self._conn, self._curs = stack, conn, curs
        self._copying, self.positions = copying, positions

    def finish(self) -> list[int]:
        try:
            self._copying.__exit__(None, None, None)  # the end of the COPY, and its answer
            self._curs.execute("COMMIT")
        except BaseException:
            _abandon(self._stack, self._conn)
            raise
        self._stack.close()
        return self.positions


def _abandon(stack: contextlib.ExitStack, conn: Connection[Any]) -> None:
    """In an `except` block: rolls back, returns the connection, and raises the error the
    datastore's context translates the one being handled into (the library's own, such as
    its `IntegrityError` for a duplicate version), if it does."""
    _roll_back(conn)
    stack.__exit__(*sys.exc_info())


def _roll_back(conn: Connection[Any]) -> None:
    """Ends a transaction our own BEGIN opened and a failure left open (the pool would
    otherwise hand the connection out mid-transaction); a closed connection has none."""
    if conn.info.transaction_status != TransactionStatus.IDLE and not conn.closed:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
