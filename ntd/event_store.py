"""Lean reads of the event store: many aggregates' events in one query (the library reads one
aggregate a query), and pages of the notification log for the relay and rebuilds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple
from uuid import UUID

import psycopg2
from eventsourcing.persistence import Notification, StoredEvent
from psycopg2 import sql


class LogPage(NamedTuple):
    """Rows of the log, and the id of the last row looked at (0: none), kept or not."""

    rows: list[Notification]
    last_id: int


def _notification(row: Sequence[Any]) -> Notification:
    """A log row (id, originator id as text, version, topic, state) as the library's type."""
    return Notification(
        id=row[0],
        originator_id=UUID(row[1]),
        originator_version=row[2],
        topic=row[3],
        state=bytes(row[4]),
    )


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

    def notifications(
        self, start: int, limit: int, skip_topics: Sequence[str] = (), stop: int | None = None
    ) -> LogPage:
        """Up to `limit` rows of the log from `start` (up to `stop`), without the events of
        `skip_topics`; `last_id` covers the skipped rows too."""
        rows = self.connection.execute(
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.table}"
            " WHERE rowid >= ? AND rowid <= ? ORDER BY rowid LIMIT ?",
            (start, 2**62 if stop is None else stop, limit),
        ).fetchall()
        self.connection.commit()
        skip = set(skip_topics)
        kept = [_notification(r) for r in rows if r[3] not in skip]
        return LogPage(kept, rows[-1][0] if rows else 0)

    def close(self) -> None:
        self.connection.close()


class PostgresBatchReader:
    """Batch reads from the PostgreSQL event store."""

    def __init__(self, dsn: str, schema: str, table: str) -> None:
        self.connection: Any = psycopg2.connect(dsn)
        self.connection.autocommit = True  # each read is one statement: one round trip
        self.query = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.{}"
            " WHERE originator_id = ANY(%s::uuid[]) ORDER BY originator_id, originator_version"
        ).format(sql.Identifier(schema), sql.Identifier(table))
        self.table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        self.page_queries: dict[tuple[int, int] | None, Any] = {}

    def _page_query(self, share: tuple[int, int] | None) -> Any:
        """A page of the log; with `share` (k, n) only the aggregates of share k of n.

        The page is an index scan in id order whatever the statistics say: an upper bound in the
        scan itself makes the planner pick a bitmap scan of the whole range on a freshly loaded
        table, which costs a page in proportion to the rows after it."""
        query = self.page_queries.get(share)
        if query is None:
            among = sql.SQL("")
            if share is not None:
                among = sql.SQL(" AND (hashtext(originator_id) & 2147483647) %% {} = {}").format(
                    sql.Literal(share[1]), sql.Literal(share[0])
                )
            query = self.page_queries[share] = sql.SQL(
                "WITH page AS (SELECT notification_id, originator_id::text AS originator_id,"
                " originator_version, topic, state FROM {} WHERE notification_id >= %s"
                " ORDER BY notification_id LIMIT %s),"
                " bounded AS (SELECT *, topic <> ALL(%s){} AS keep"
                " FROM page WHERE notification_id <= %s)"
                " SELECT * FROM bounded"
                " WHERE keep OR notification_id = (SELECT max(notification_id) FROM bounded)"
                " ORDER BY notification_id"
            ).format(self.table, among)
        return query

    def stored_events(self, aggregate_ids: Sequence[UUID]) -> Iterator[StoredEvent]:
        """Every stored event of the given aggregates, per aggregate in version order."""
        with self.connection.cursor() as cursor:
            cursor.execute(self.query, ([str(i) for i in aggregate_ids],))
            rows = cursor.fetchall()
        yield from (StoredEvent(UUID(str(r[0])), r[1], r[2], bytes(r[3])) for r in rows)

    def notifications(
        self,
        start: int,
        limit: int,
        skip_topics: Sequence[str] = (),
        stop: int | None = None,
        share: tuple[int, int] | None = None,
    ) -> LogPage:
        """Up to `limit` rows of the log from `start` (up to `stop`), without the events of
        `skip_topics` (and, with `share` (k, n), of aggregates outside share k of n);
        `last_id` covers the rows left out too."""
        with self.connection.cursor() as cursor:
            bound = 2**62 if stop is None else stop
            cursor.execute(self._page_query(share), (start, limit, list(skip_topics), bound))
            rows = cursor.fetchall()
        return LogPage([_notification(r) for r in rows if r[5]], rows[-1][0] if rows else 0)

    def close(self) -> None:
        self.connection.close()


StoreReader = SqliteBatchReader | PostgresBatchReader
