"""The PostgreSQL event store's write path: each save in one round trip.

The library's recorder writes through psycopg 3 in pipeline mode: a lock, a notify and one
insert per event, about 600 µs of client CPU for a two-event save. This recorder keeps the
library's table, ids and semantics and sends the same work as one call of a database function,
over psycopg2 in autocommit: the function locks the table in EXCLUSIVE mode (so notification
ids commit in the order they are handed out, which the relay relies on), notifies the library's
channel and inserts every event of the save from arrays."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg2
import psycopg2.errors
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg2 import sql

ATTEMPTS = 10
"""Connection failures are retried like the library's own writes (10 tries, 0.2 s apart)."""


class PostgresOutboxRecorder(PostgresApplicationRecorder):
    """The library's application recorder, with saves written by one function call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = sql.Identifier(self.datastore.schema)
        self.function = sql.SQL("{}.{}").format(
            schema, sql.Identifier(f"ntd_insert_{self.events_table_name}")
        )
        self.call = sql.SQL(
            "SELECT * FROM {}(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[])"
        ).format(self.function)
        self._connection: Any = None
        self._lock = threading.Lock()

    def create_table(self) -> None:
        """The library's tables, then the insert function (replaced to match this code)."""
        super().create_table()
        table = sql.SQL("{}.{}").format(
            sql.Identifier(self.datastore.schema), sql.Identifier(self.events_table_name)
        )
        definition = sql.SQL(
            "CREATE OR REPLACE FUNCTION {function}("
            "ids uuid[], versions bigint[], topics text[], states bytea[])"
            " RETURNS SETOF bigint LANGUAGE plpgsql AS $body$"
            " BEGIN"
            "  SET LOCAL lock_timeout = '{timeout}s';"
            "  LOCK TABLE {table} IN EXCLUSIVE MODE;"
            "  NOTIFY {channel};"
            "  RETURN QUERY INSERT INTO {table}"
            "   (originator_id, originator_version, topic, state)"
            "   SELECT * FROM unnest(ids, versions, topics, states)"
            "   RETURNING notification_id;"
            " END $body$"
        ).format(
            function=self.function,
            timeout=sql.SQL(str(int(self.datastore.lock_timeout))),
            table=table,
            channel=sql.Identifier(self.channel_name),
        )
        connection = self._connect()
        try:
            with connection, connection.cursor() as cursor:
                # Processes starting together would otherwise race on replacing the function.
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (str(self.function),))
                cursor.execute(definition)
        finally:
            connection.close()

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Store the events of one save, all or nothing; IntegrityError if any (id, version)
        is taken. Anything beyond plain events (tracking records) goes the library's way."""
        if not stored_events or any(value is not None for value in kwargs.values()):
            return super().insert_events(stored_events, **kwargs)
        arguments = (
            [str(e.originator_id) for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self._lock:
                    if self._connection is None or self._connection.closed:
                        self._connection = self._connect()
                        self._connection.autocommit = True
                    with self._connection.cursor() as cursor:
                        cursor.execute(self.call, arguments)
                        return [row[0] for row in cursor.fetchall()]
            except psycopg2.errors.UniqueViolation as error:
                raise IntegrityError(str(error).strip()) from error
            except psycopg2.errors.UndefinedFunction:  # a store set up before the function
                return super().insert_events(stored_events)
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self._drop_connection()
                if attempt == ATTEMPTS:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def _connect(self) -> Any:
        options: dict[str, Any] = self.datastore.pool.kwargs  # type: ignore[assignment]
        return psycopg2.connect(
            dbname=options["dbname"],
            host=options["host"],
            port=options["port"],
            user=options["user"],
            password=options["password"],
        )

    def _drop_connection(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def close(self) -> None:
        """Close this recorder's own connection (the library's pool closes with the app)."""
        self._drop_connection()
