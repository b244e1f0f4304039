"""What differs between SQLite and PostgreSQL (placeholders, bulk loads, streaming, the locks
that order transactions), COPY's text format, and the transaction helper every adapter uses."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import uuid4

from projections.sql.schema import Table

Cursor = Any
"""A DB-API cursor (sqlite3 or psycopg2)."""

ADVISORY_CONSUMER = 7101
"""First key of the advisory locks a consumer's transactions take on PostgreSQL."""
CHUNK = 500
"""Ids per IN (...) list on SQLite (PostgreSQL takes them as one array)."""
STREAM_ROWS = 2000
"""Rows fetched per round trip when streaming."""

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    text = value if type(value) is str else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _copy_line(row: Sequence[Any]) -> str:
    """One row in COPY's text format; fields are escaped one by one only when the row holds a
    character COPY treats specially (rarely: most rows are ids, times, numbers and JSON)."""
    line = "\t".join(["\\N" if v is None else v if type(v) is str else str(v) for v in row])
    if (
        line.count("\\") == row.count(None)
        and line.count("\t") == len(row) - 1
        and "\n" not in line
        and "\r" not in line
    ):
        return line + "\n"
    return "\t".join([_copy_field(v) for v in row]) + "\n"


@contextmanager
def transaction(conn: Any, *opening: str | None) -> Iterator[Cursor]:
    """A write transaction on a DB-API connection: its opening statements (None: none), then
    commit, or rollback on any error."""
    cur = conn.cursor()
    try:
        for statement in opening:
            if statement:
                cur.execute(statement)
        yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        cur.close()


def add_missing_columns(
    cur: Cursor, postgres: bool, columns: Sequence[tuple[str, str, str]]
) -> list[tuple[str, str]]:
    """Add each (table, column, type) a table created by an older ntd lacks; returns the
    (table, column) of each one added. Tables are ntd's own names, never input."""
    added: list[tuple[str, str]] = []
    for table in dict.fromkeys(table for table, _, _ in columns):
        if postgres:
            cur.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = %s AND table_schema = current_schema()",
                (table,),
            )
        else:
            cur.execute(f"SELECT name FROM pragma_table_info('{table}')")
        present = {row[0] for row in cur.fetchall()}
        for name, column, kind in columns:
            if name == table and column not in present:
                cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                added.append((table, column))
    return added


class Dialect:
    """SQLite: `?` placeholders, BEGIN IMMEDIATE to write, executemany, fetchmany streaming.

    SQLite needs no gate: a transaction sees one snapshot, schema included, and BEGIN IMMEDIATE
    makes writers (a rebuild's swap among them) take turns."""

    begin_write: str | None = "BEGIN IMMEDIATE"
    begin_read: str | None = "BEGIN"
    lock = ""
    gate: str | None = None
    """Taken first by every reader and writer, so a rebuild's swap waits for them (and they
    for it): each transaction sees the old views or the new ones, never a mix."""

    def serialize(self, cur: Cursor, consumer: str) -> None:
        """Make the transactions of one consumer take turns (BEGIN IMMEDIATE already does)."""

    def copy(self, cur: Cursor, table: Table, name: str, rows: Sequence[Sequence[Any]]) -> None:
        """Bulk-load rows (in the table's column order) into `name`, a table shaped like it."""
        if rows:
            marks = ", ".join("?" * len(table.column_names))
            cur.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)

    def sql(self, text: str) -> str:
        """The statement in this driver's paramstyle (statements are written with `?`)."""
        return text

    def among(self, statement: str, keys: Sequence[str]) -> Iterator[tuple[str, Sequence[Any]]]:
        """`statement`, written with `IN ({marks})`, for the keys: one per CHUNK keys here."""
        for start in range(0, len(keys), CHUNK):
            part = keys[start : start + CHUNK]
            yield self.sql(statement.format(marks=", ".join("?" * len(part)))), part

    def insert_many(
        self, cur: Cursor, head: str, rows: Sequence[Sequence[Any]], tail: str = ""
    ) -> None:
        """Insert many rows: `head` is `INSERT INTO t (cols)`, `tail` e.g. an ON CONFLICT."""
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            cur.executemany(f"{head} VALUES ({marks}){tail}", rows)

    def stream(self, conn: Any, statement: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """Rows of a query, fetched a page at a time."""
        cur = conn.cursor()
        try:
            cur.execute(statement, params)
            while rows := cur.fetchmany(STREAM_ROWS):
                yield from rows
        finally:
            cur.close()


class PostgresDialect(Dialect):
    """PostgreSQL via psycopg2: `%s`, row lock on the position, execute_values, named cursors."""

    begin_write = None
    begin_read = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    lock = " FOR UPDATE"
    gate = "LOCK TABLE read_gate IN ACCESS SHARE MODE"
    """LOCK takes no snapshot, so a reader queued behind a swap sees the new views whole."""

    def serialize(self, cur: Cursor, consumer: str) -> None:
        """A transaction lock per consumer and schema: a zombie after a rebalance waits its turn,
        then finds the offsets moved and skips what the new owner applied."""
        cur.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema() || '/' || %s))",
            (ADVISORY_CONSUMER, consumer),
        )

    def copy(self, cur: Cursor, table: Table, name: str, rows: Sequence[Sequence[Any]]) -> None:
        """COPY in PostgreSQL's text format: tab-separated, None as \\N, and backslash, tab,
        newline and carriage return escaped (about six times faster to write than CSV)."""
        if not rows:
            return
        text = "".join([_copy_line(row) for row in rows])
        columns = ", ".join(table.column_names)
        cur.copy_expert(f"COPY {name} ({columns}) FROM STDIN", io.StringIO(text))

    def sql(self, text: str) -> str:
        """Statements are written with `?`; psycopg2 wants `%s`."""
        return text.replace("?", "%s")

    def among(self, statement: str, keys: Sequence[str]) -> Iterator[tuple[str, Sequence[Any]]]:
        """`statement` for all the keys at once, as one array (one round trip, however many)."""
        if "IN ({marks})" not in statement:
            raise ValueError(f"no IN ({{marks}}) to put the keys in: {statement}")
        if keys:
            yield self.sql(statement.replace("IN ({marks})", "= ANY(?)")), (list(keys),)

    def insert_many(
        self, cur: Cursor, head: str, rows: Sequence[Sequence[Any]], tail: str = ""
    ) -> None:
        """One multi-row INSERT for all the rows: one round trip."""
        from psycopg2.extras import execute_values

        if rows:
            execute_values(cur, f"{head} VALUES %s{tail}", rows, page_size=len(rows))

    def stream(self, conn: Any, statement: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """Rows through a server-side cursor, a page at a time."""
        cur = conn.cursor(name=f"ntd_read_{uuid4().hex}")
        cur.itersize = STREAM_ROWS
        try:
            cur.execute(statement, params)
            yield from cur
        finally:
            cur.close()
