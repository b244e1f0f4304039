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
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg2 import sql

from ntd.store_chain import CHECKPOINT_COLUMNS, GENESIS, chain_table, checkpoint_table
from projections.schema_lock import schema_locked

ATTEMPTS = 10
"""Connection failures are retried like the library's own writes (10 tries, 0.2 s apart)."""
CONNECT_TIMEOUT = 5
"""Seconds to wait for a connection (the library's default), so a dead host fails, not hangs."""


def _library_error(error: psycopg2.Error) -> PersistenceError:
    """A psycopg2 error as the library's own exception type (what its callers catch)."""
    kinds: tuple[tuple[type[psycopg2.Error], type[PersistenceError]], ...] = (
        (psycopg2.InterfaceError, InterfaceError),
        (psycopg2.OperationalError, OperationalError),
        (psycopg2.DataError, DataError),
        (psycopg2.IntegrityError, IntegrityError),
        (psycopg2.InternalError, InternalError),
        (psycopg2.ProgrammingError, ProgrammingError),
        (psycopg2.NotSupportedError, NotSupportedError),
        (psycopg2.DatabaseError, DatabaseError),
    )
    kind = next((ours for theirs, ours in kinds if isinstance(error, theirs)), PersistenceError)
    return kind(str(error).strip())


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
        self.table = sql.SQL("{}.{}").format(schema, sql.Identifier(self.events_table_name))
        self._connection: Any = None
        self._lock = threading.Lock()

    def create_table(self) -> None:
        """The library's types, tables and index, then the insert function (replaced to match
        this code), all under the schema's DDL lock: processes starting together on a fresh
        database would otherwise race on creating them (see projections.schema_lock). The
        library runs its DDL in transactions of its own, so the lock is a session's, held on
        a connection of its own around them."""
        links = sql.SQL("{}.{}").format(
            sql.Identifier(self.datastore.schema),
            sql.Identifier(chain_table(self.events_table_name)),
        )
        chain = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {links} (notification_id bigint PRIMARY KEY,"
            " recorded_at text NOT NULL, hash bytea NOT NULL)"
            "; CREATE TABLE IF NOT EXISTS {marks} ({columns})"
        ).format(
            links=links,
            marks=sql.SQL("{}.{}").format(
                sql.Identifier(self.datastore.schema),
                sql.Identifier(checkpoint_table(self.events_table_name)),
            ),
            columns=sql.SQL(CHECKPOINT_COLUMNS),
        )
        # The links (ntd/store_chain.py) are computed here, under the lock, so that no other
        # writer's event comes between reading the head and writing ours. A store with events
        # but no links yet is left unchained until `ntd audit chain --migrate` chains it.
        definition = sql.SQL(
            "CREATE OR REPLACE FUNCTION {function}("
            "ids uuid[], versions bigint[], topics text[], states bytea[])"
            " RETURNS SETOF bigint LANGUAGE plpgsql AS $body$"
            " DECLARE head bytea; at text; r record; chained boolean;"
            "  positions bigint[] := '{{}}'; hashes bytea[] := '{{}}';"
            " BEGIN"
            "  SET LOCAL lock_timeout = '{timeout}s';"
            "  LOCK TABLE {table} IN EXCLUSIVE MODE;"
            "  NOTIFY {channel};"
            "  SELECT hash INTO head FROM {links} ORDER BY notification_id DESC LIMIT 1;"
            "  chained := head IS NOT NULL OR NOT EXISTS (SELECT 1 FROM {table});"
            "  head := coalesce(head, '\\x{genesis}'::bytea);"
            "  at := to_char(clock_timestamp() AT TIME ZONE 'UTC',"
            '   \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\');'
            "  FOR r IN WITH stored AS (INSERT INTO {table}"
            "   (originator_id, originator_version, topic, state)"
            "   SELECT * FROM unnest(ids, versions, topics, states)"
            "   RETURNING notification_id, originator_id, originator_version, topic, state)"
            "   SELECT * FROM stored ORDER BY notification_id"
            "  LOOP"
            "   IF chained THEN"
            "    head := sha256(head || sha256(r.state) || convert_to(r.notification_id::text"
            "     || E'\\n' || r.originator_id::text || E'\\n' || r.originator_version::text"
            "     || E'\\n' || at || E'\\n' || r.topic, 'UTF8'));"
            "    positions := positions || r.notification_id; hashes := hashes || head;"
            "   END IF;"
            "   RETURN NEXT r.notification_id;"
            "  END LOOP;"
            "  INSERT INTO {links} SELECT p, at, h FROM unnest(positions, hashes) AS u(p, h);"
            " END $body$"
        ).format(
            function=self.function,
            timeout=sql.SQL(str(int(self.datastore.lock_timeout))),
            table=self.table,
            links=links,
            genesis=sql.SQL(GENESIS.hex()),
            channel=sql.Identifier(self.channel_name),
        )
        connection = self._connect()
        try:
            connection.autocommit = True
            with schema_locked(connection, self.datastore.schema):
                super().create_table()
                with connection.cursor() as cursor:
                    cursor.execute(chain)
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
        interrupted = False
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self._lock, self._connected().cursor() as cursor:
                    cursor.execute(self.call, arguments)
                    return [row[0] for row in cursor.fetchall()]
            except psycopg2.errors.UniqueViolation as error:
                # After a lost connection the save may have committed before the reply was
                # lost: then it is done, not a conflict (else the caller would apply it again).
                done = self._stored_ids(stored_events) if interrupted else None
                if done is not None:
                    return done
                raise IntegrityError(str(error).strip()) from error
            except psycopg2.errors.UndefinedFunction:  # a store set up before the function
                return super().insert_events(stored_events)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                self._drop_connection()
                interrupted = True
                if attempt == ATTEMPTS:
                    raise _library_error(error) from error
                time.sleep(0.2)
            except psycopg2.Error as error:
                raise _library_error(error) from error
        raise AssertionError("unreachable")

    def _stored_ids(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The notification ids of these events if every one is stored exactly so (id, version
        and state), in their order; None if any is missing or different."""
        statement = sql.SQL(
            "SELECT t.originator_id::text, t.originator_version, t.notification_id, t.state"
            " FROM {} t JOIN unnest(%s::uuid[], %s::bigint[]) AS k(id, version)"
            " ON t.originator_id = k.id AND t.originator_version = k.version"
        ).format(self.table)
        keys = [str(e.originator_id) for e in stored_events]
        with self._lock, self._connected().cursor() as cursor:
            cursor.execute(statement, (keys, [e.originator_version for e in stored_events]))
            found = {(row[0], row[1]): (row[2], bytes(row[3])) for row in cursor.fetchall()}
        ids = []
        for key, event in zip(keys, stored_events, strict=True):
            hit = found.get((key, event.originator_version))
            if hit is None or hit[1] != bytes(event.state):
                return None
            ids.append(hit[0])
        return ids

    def _connected(self) -> Any:
        """This recorder's connection (autocommit: each statement is its own transaction),
        opened if need be; call with the lock held."""
        if self._connection is None or self._connection.closed:
            self._connection = self._connect()
            self._connection.autocommit = True
        return self._connection

    def _connect(self) -> Any:
        options: dict[str, Any] = self.datastore.pool.kwargs  # type: ignore[assignment]
        return psycopg2.connect(
            dbname=options["dbname"],
            host=options["host"],
            port=options["port"],
            user=options["user"],
            password=options["password"],
            connect_timeout=CONNECT_TIMEOUT,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )

    def _drop_connection(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def close(self) -> None:
        """Close this recorder's own connection (the library's pool closes with the app)."""
        self._drop_connection()
