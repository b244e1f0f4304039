"""Tables created at start-up, by one process at a time.

Every process of a deployment starts at once, and each creates the tables, indexes and
functions it needs if they are missing. PostgreSQL's IF NOT EXISTS is no guard against a
creator at the same moment: both find the name free, and the second fails on the catalog
(`duplicate key value violates unique constraint "pg_type_typname_nsp_index"`, or `tuple
concurrently updated` for a function). So every place that runs such DDL on PostgreSQL first
takes the schema's advisory lock, in the DDL's own transaction (`lock_schema`) or, around DDL
that runs in transactions of its own, on a session held for the while (`schema_locked`): the
next process waits, then finds everything there.

SQLite needs no lock for its DDL: a writer holds the file's lock (the busy timeout waits for
it), and CREATE … IF NOT EXISTS looks again once it has it. What it does need is `use_wal`:
switching a file to WAL from several processes at once fails at once with "database is
locked" (SQLite refuses the wait, which could deadlock), whatever the busy timeout.

It lives in projections, the lowest layer with database code, so that the event store (ntd),
the relay's tables (consumers) and the views (projections) can all use it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ADVISORY_SCHEMA = 7103
"""First key of the advisory lock that start-up DDL takes on PostgreSQL; the second is the
hashtext of the schema's name, so stores in different schemas (or databases: advisory locks are
per database) do not wait for each other. The other keys: 7101 a consumer's transactions
(projections.sql.dialect.ADVISORY_CONSUMER), 7102 a rebuild
(projections.sql.fresh_tables.ADVISORY_REBUILD)."""

_KEY = "%s, hashtext(COALESCE(%s, current_schema(), ''))"
WAL_WAIT = 30.0
"""Seconds `use_wal` keeps trying while other processes hold the file (SQLite's busy timeout
in ntd)."""


def lock_schema(cursor: Any, schema: str | None = None) -> None:
    """Take the DDL lock of `schema` (default: the current schema, where unqualified names are
    created) in the transaction of this psycopg2 cursor, to its end: call it first, before
    the transaction's DDL."""
    cursor.execute(f"SELECT pg_advisory_xact_lock({_KEY})", (ADVISORY_SCHEMA, schema))


@contextmanager
def schema_locked(connection: Any, schema: str) -> Iterator[None]:
    """Hold the DDL lock of `schema` on this psycopg2 connection (a session of its own, in
    autocommit) while the body runs DDL elsewhere, e.g. in a library's own transactions. If
    the body fails, the connection is closed: that ends the session, and the lock with it,
    whatever state the connection is in (a process that dies frees the lock the same way)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_advisory_lock({_KEY})", (ADVISORY_SCHEMA, schema))
    try:
        yield
    except BaseException:
        connection.close()
        raise
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_advisory_unlock({_KEY})", (ADVISORY_SCHEMA, schema))


def create_schema(dsn: str, schema: str) -> None:
    """CREATE SCHEMA IF NOT EXISTS, under the schema's DDL lock (processes starting together
    otherwise race: `duplicate key value violates unique constraint
    "pg_namespace_nspname_index"`)."""
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(dsn)
    try:
        with connection, connection.cursor() as cursor:
            lock_schema(cursor, schema)
            cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    finally:
        connection.close()


def use_wal(path: str, wait: float = WAL_WAIT) -> None:
    """Put the SQLite file at `path` in WAL mode (it stays so), retrying while another process
    switches it at the same moment; a file already in WAL mode is left as it is."""
    deadline = time.monotonic() + wait
    while True:
        connection = sqlite3.connect(path, timeout=wait)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        finally:
            connection.close()
        time.sleep(0.01)
