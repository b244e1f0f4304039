"""The SQL read store: SQLite or PostgreSQL over DB-API, one transaction per batch, every query
in one snapshot. It composes the tables (schema), the dialect, the writes, the positions
(offsets) and the queries; a rebuild's fresh tables are in fresh_tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import projections.sql.queries as queries
from domain.rules import Rules
from domain.values import DomainEvent
from projections.audit import AuditRecord
from projections.dashboard import assemble
from projections.handlers import project
from projections.models import (
    ActionItem,
    AuditQuery,
    AuditRow,
    AuditVerification,
    CaseLine,
    CaseQuery,
    CaseSummary,
    Dashboard,
    DueDeadline,
    NotifierSummary,
)
from projections.rebuild import payloads_of
from projections.schema_lock import lock_schema
from projections.sql.dialect import Cursor, Dialect, PostgresDialect, transaction
from projections.sql.fresh_tables import SqlFreshTables
from projections.sql.migrate import migrate
from projections.sql.offsets import (
    create_position,
    reset_positions,
    set_position,
    store_offsets,
    stored_offsets,
    stored_position,
)
from projections.sql.schema import INDEXES, SCHEMA, TABLES
from projections.sql.writes import Loader, write
from projections.staging import Batch, fresh
from projections.tracking import (
    Applied,
    Partition,
    Span,
    Tracked,
    advanced,
    payloads,
    project_tracked,
    select,
)


def open_sqlite(path: str) -> SqlReadStore:
    """A store in a SQLite file (its folder is created), or `/:memory:` for a throwaway one."""
    if path in ("/:memory:", ":memory:"):
        target = ":memory:"
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        target = path
    # one caller at a time, but not always the opening thread (a consumer's sink thread)
    conn = sqlite3.connect(target, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return SqlReadStore(conn, Dialect())


def open_postgres(url: str) -> SqlReadStore:
    """A store in a PostgreSQL database, e.g. postgresql://ntd:ntd@127.0.0.1:5432/ntd."""
    import psycopg2

    return SqlReadStore(
        psycopg2.connect(url), PostgresDialect(), connect=lambda: psycopg2.connect(url)
    )


class SqlReadStore:
    """A ReadStore over one DB-API connection; rows and position commit together."""

    def __init__(
        self, connection: Any, dialect: Dialect, connect: Callable[[], Any] | None = None
    ) -> None:
        self._conn = connection
        self._dialect = dialect
        self.connect = connect
        """Opens another connection to the same database (work that can run side by side)."""
        with self._writing(gate=False) as cur:
            if isinstance(dialect, PostgresDialect):
                lock_schema(cur)  # processes starting together take turns at creating tables
            for statement in SCHEMA:
                cur.execute(statement)
            migrate(dialect, cur)
            for statement in INDEXES:
                cur.execute(statement)
            create_position(self._dialect, cur)

    @property
    def connection(self) -> Any:
        """The DB-API connection (a rebuild's fresh tables are written through it)."""
        return self._conn

    @property
    def dialect(self) -> Dialect:
        """What differs between SQLite and PostgreSQL."""
        return self._dialect

    # -- transactions --------------------------------------------------------------------------

    def _writing(self, gate: bool = True) -> AbstractContextManager[Cursor]:
        gated = self._dialect.gate if gate else None
        return transaction(self._conn, self._dialect.begin_write, gated)

    @contextmanager
    def _reading(self) -> Iterator[Cursor]:
        """One snapshot for every query inside; never writes."""
        cur = self._conn.cursor()
        try:
            if self._dialect.begin_read:
                cur.execute(self._dialect.begin_read)
            if self._dialect.gate:
                cur.execute(self._dialect.gate)
            yield cur
        finally:
            cur.close()
            self._conn.rollback()

    # -- writing -------------------------------------------------------------------------------

    def position(self) -> int:
        """The last notification id applied (0 if none)."""
        with self._reading() as cur:
            return stored_position(self._dialect, cur)

    def apply(self, batch: Sequence[tuple[int, DomainEvent]]) -> None:
        """Apply the events after the stored position; rows and position in one transaction."""
        with self._writing() as cur:
            events = fresh(batch, stored_position(self._dialect, cur, self._dialect.lock))
            if not events:
                return
            staged = Batch(Loader(self._dialect, cur), payloads_of(batch))
            staged.prefetch(event for _, event in events)
            for seq, event in events:
                project(seq, event, staged)
            self._write(cur, staged)
            set_position(self._dialect, cur, events[-1][0])

    def offsets(
        self, consumer: str, partitions: Collection[Partition] | None = None
    ) -> dict[Partition, int]:
        """The stored next offset of each partition (of those given) that has one."""
        with self._reading() as cur:
            stored = stored_offsets(self._dialect, cur, consumer)
        if partitions is None:
            return stored
        return {p: stored[p] for p in partitions if p in stored}

    def apply_tracked(
        self, consumer: str, records: Sequence[Tracked], spans: Mapping[Partition, Span]
    ) -> Applied:
        """Apply the records not applied before and store the spans' ends as the consumer's next
        offsets, in one transaction; returns how many records were applied and how many were
        re-sent events the views already held (skipped).

        Raises PositionsMoved (nothing changes) when a span starts beyond a stored offset, and
        RecordRejected (nothing changes) naming a record the views cannot place."""
        with self._writing() as cur:
            self._dialect.serialize(cur, consumer)
            stored = stored_offsets(self._dialect, cur, consumer)
            chosen = select(records, spans, stored, stored_position(self._dialect, cur))
            applied = Applied()
            if chosen:
                staged = Batch(Loader(self._dialect, cur), payloads(chosen))
                applied = project_tracked(chosen, staged)
                self._write(cur, staged)
            store_offsets(self._dialect, cur, consumer, advanced(spans, stored))
        return applied

    def _write(self, cur: Cursor, staged: Batch) -> None:
        write(self._dialect, cur, staged)

    def reset(self) -> None:
        """Delete every row and set the position back to 0 (consumer offsets and read marks
        included)."""
        with self._writing() as cur:
            for table in (*TABLES, "message_reads"):
                cur.execute(f"DELETE FROM {table}")
            reset_positions(self._dialect, cur)

    def fresh_tables(self) -> SqlFreshTables:
        """Fresh tables for a rebuild, swapped in whole at its end (see fresh_tables)."""
        return SqlFreshTables(self)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # -- queries -------------------------------------------------------------------------------

    def dashboard(
        self, notifier_id: UUID, now: datetime, rules: Rules, viewer: str | None = None
    ) -> Dashboard:
        """A notifier's figures as they stood at `now`, aggregated in SQL, in one snapshot."""
        with self._reading() as cur:
            figures = queries.figures(self._dialect, cur, notifier_id, now, rules, viewer)
        return assemble(figures, rules)

    def case_list(self, query: CaseQuery) -> list[CaseLine]:
        """The cases the query matches, the latest filed first, in one query."""
        with self._reading() as cur:
            return queries.case_lines(self._dialect, cur, query, queue=False)

    def queue(self, query: CaseQuery) -> list[CaseLine]:
        """The open cases the query matches in the work queue's order, in one query."""
        with self._reading() as cur:
            return queries.case_lines(self._dialect, cur, query, queue=True)

    def needs_action(self, reach: frozenset[UUID] | None, viewer: str) -> list[ActionItem]:
        """What the cases of the notifiers in reach await from them, in one query."""
        with self._reading() as cur:
            return queries.needs_action(self._dialect, cur, reach, viewer)

    def mark_read(self, principal: str, case_id: UUID, version: int) -> None:
        """Note that `principal` has read the case's conversation up to its `version`."""
        with self._writing() as cur:
            cur.execute(
                self._dialect.sql(
                    "INSERT INTO message_reads (principal, case_id, last_seq) VALUES (?, ?, ?)"
                    " ON CONFLICT (principal, case_id) DO UPDATE SET last_seq ="
                    " CASE WHEN excluded.last_seq > message_reads.last_seq"
                    " THEN excluded.last_seq ELSE message_reads.last_seq END"
                ),
                (principal, str(case_id), version),
            )

    def notifiers(self) -> list[NotifierSummary]:
        """Every notifier with its lane and case count, most cases first."""
        with self._reading() as cur:
            return queries.notifiers(self._dialect, cur)

    def case(self, case_id: UUID) -> CaseSummary | None:
        """One case's summary, or None."""
        with self._reading() as cur:
            return queries.case(self._dialect, cur, case_id)

    def audit_query(self, query: AuditQuery) -> Iterator[AuditRow]:
        """Matching audit rows in seq order, streamed from one snapshot."""
        statement, params = queries.audit_select(query)
        with self._reading():
            yield from queries.audit_rows(self._dialect, self._conn, statement, params)

    def verify_audit(
        self, observe: Callable[[AuditRecord], None] | None = None
    ) -> AuditVerification:
        """Walk every audit chain against the recorded heads, in one snapshot, showing
        `observe` every row."""
        with self._reading() as cur:
            return queries.verify_audit(self._dialect, cur, self._conn, observe)

    def due_deadlines(self, now: datetime) -> list[DueDeadline]:
        """Open deadlines due at or before `now`, earliest first."""
        with self._reading() as cur:
            return queries.due_deadlines(self._dialect, cur, now)
