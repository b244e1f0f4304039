"""Reads many aggregates' stored events in one query (the library reads one aggregate a query)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

import psycopg2
from eventsourcing.persistence import StoredEvent
from psycopg2 import sql


class SqliteBatchReader:
    """Batch reads from the embedded SQLite event store."""

    def __init__(self, path: str, table: str) -> None:
        self.connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self.table = table

    def stored_events(self, aggregate_ids: Sequence[UUID]) -> Iterator[StoredEvent]:
        """Every stored event of the given aggregates, per aggregate in version order."""
        for start in range(0, len(aggregate_ids), 500):
            chunk = [i.hex for i in aggregate_ids[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            rows = self.connection.execute(
                f"SELECT originator_id, originator_version, topic, state FROM {self.table}"
                f" WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
                chunk,
            ).fetchall()
            self.connection.commit()
            yield from (StoredEvent(UUID(r[0]), r[1], r[2], bytes(r[3])) for r in rows)

    def close(self) -> None:
        self.connection.close()


class PostgresBatchReader:
    """Batch reads from the PostgreSQL event store."""

    def __init__(self, dsn: str, schema: str, table: str) -> None:
        self.connection: Any = psycopg2.connect(dsn)
        self.query = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.{}"
            " WHERE originator_id = ANY(%s::uuid[]) ORDER BY originator_id, originator_version"
        ).format(sql.Identifier(schema), sql.Identifier(table))

    def stored_events(self, aggregate_ids: Sequence[UUID]) -> Iterator[StoredEvent]:
        """Every stored event of the given aggregates, per aggregate in version order."""
        with self.connection.cursor() as cursor:
            cursor.execute(self.query, ([str(i) for i in aggregate_ids],))
            rows = cursor.fetchall()
        self.connection.commit()
        yield from (StoredEvent(UUID(str(r[0])), r[1], r[2], bytes(r[3])) for r in rows)

    def close(self) -> None:
        self.connection.close()
