"""A rebuild's fresh tables on SQLite or PostgreSQL, and the swap that puts them in place.

The fresh tables are the view tables' twins named `rebuild_<table>`, loaded without secondary
indexes (on PostgreSQL without primary keys too, by COPY); indexes are built after loading. The
swap is one transaction: drop each live table, rename its twin (and the twin's indexes) to the
live names, replace the positions. On PostgreSQL it first takes the gate table exclusively,
which every reader and writer takes shared before anything else, so a query runs wholly before
the swap or wholly after it; on SQLite the transaction's snapshot does the same.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import structlog

from projections.rebuild import Positions, Replay
from projections.sql.dialect import Cursor, Dialect, PostgresDialect, transaction
from projections.sql.offsets import replace_positions
from projections.sql.rows import case_row, chain_row, deadline_rows, notifier_row
from projections.sql.schema import BY_NAME, VIEW_TABLES
from projections.sql.writes import appended_rows
from projections.staging import Batch

log = structlog.get_logger("ntd.rebuild")

PREFIX = "rebuild_"
ADVISORY_REBUILD = 7102
"""First key of the session advisory lock that lets one rebuild run per schema (PostgreSQL)."""
SWAP_LOCK_TIMEOUT = "3s"
SWAP_ATTEMPTS = 40
INDEX_LANES = 4
"""At most this many index builds at once (one per CPU)."""


class RebuildBusy(RuntimeError):
    """Another rebuild of the same views is running."""


class Database(Protocol):
    """What the fresh tables use of the read store (SqlReadStore): its connection, its dialect,
    and how to open another connection to the same database (None: it cannot)."""

    @property
    def connection(self) -> Any: ...

    @property
    def dialect(self) -> Dialect: ...

    connect: Callable[[], Any] | None


class SqlFreshTables:
    """Fresh twins of the view tables; `finish` swaps them in whole, with the positions."""

    def __init__(self, store: Database, attach: bool = False) -> None:
        """Create the fresh tables (taking the rebuild lock), or with `attach` write into the
        ones another process created (a worker of a parallel rebuild)."""
        self._store = store
        self._conn = store.connection
        self._dialect = store.dialect
        self._postgres = isinstance(self._dialect, PostgresDialect)
        self._locked = False
        if attach:
            return
        self._lock()
        with self._transaction() as cur:
            for table in VIEW_TABLES:
                cur.execute(f"DROP TABLE IF EXISTS {PREFIX}{table.name}")
                cur.execute(table.create(PREFIX + table.name, keyed=not self._postgres))

    # -- loading -------------------------------------------------------------------------------

    def append(self, staged: Batch) -> None:
        """Write a chunk's append-only rows: audit trail, breaches, steps, identifications,
        messages."""
        with self._transaction() as cur:
            self._copy(cur, "read_audit", staged.records)
            for table, rows in appended_rows(staged).items():
                self._copy(cur, table, rows)

    def finish(self, replay: Replay, positions: Positions) -> None:
        """Write the current rows, index every table, then swap them in with the positions."""
        self.write_current(replay)
        self.complete(positions)

    def write_current(self, replay: Replay) -> None:
        """Write the replay's current rows: cases, deadlines, notifiers, chains."""
        cases = replay.cases.values()
        with self._transaction() as cur:
            self._copy(cur, "read_cases", [case_row(case) for case in cases])
            self._copy(cur, "read_deadlines", [row for c in cases for row in deadline_rows(c)])
            self._copy(cur, "read_notifiers", [notifier_row(n) for n in replay.notifiers.values()])
            self._copy(cur, "read_audit_chains", [chain_row(c) for c in replay.chains.values()])

    def complete(self, positions: Positions) -> None:
        """Index every fresh table, then swap them in with the positions (every row written)."""
        started = time.monotonic()
        if self._postgres:
            self._index_postgres()
        log.debug("rebuild.indexed", seconds=round(time.monotonic() - started, 2))
        self._swap(positions)
        self._unlock()

    def discard(self) -> None:
        """Drop the fresh tables; the live views stay as they were."""
        try:
            self._conn.rollback()
            with self._transaction() as cur:
                for table in VIEW_TABLES:
                    cur.execute(f"DROP TABLE IF EXISTS {PREFIX}{table.name}")
        finally:
            self._unlock()

    def _copy(self, cur: Cursor, name: str, rows: Sequence[Sequence[Any]]) -> None:
        self._dialect.copy(cur, BY_NAME[name], PREFIX + name, rows)

    def _index_postgres(self) -> None:
        """Build every key and index, side by side on a few connections when the store can
        open them (each build is one CPU-bound sort), then make the keys primary keys."""
        largest_first = sorted(VIEW_TABLES, key=lambda table: table.name != "read_audit")
        builds = [
            statement
            for table in largest_first
            for statement in (
                f"CREATE UNIQUE INDEX {PREFIX}{table.name}_pkey"
                f" ON {PREFIX}{table.name} ({table.key})",
                *table.index_statements(PREFIX + table.name),
            )
        ]
        lanes = min(os.cpu_count() or 1, INDEX_LANES) if self._store.connect else 1
        if lanes > 1:
            _run_side_by_side(builds, self._store.connect, lanes)  # type: ignore[arg-type]
        with self._transaction() as cur:
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            if lanes == 1:
                for statement in builds:
                    cur.execute(statement)
            for table in VIEW_TABLES:
                fresh = PREFIX + table.name
                cur.execute(
                    f"ALTER TABLE {fresh} ADD CONSTRAINT {fresh}_pkey"
                    f" PRIMARY KEY USING INDEX {fresh}_pkey"
                )
                cur.execute(f"ANALYZE {fresh}")

    # -- the swap ------------------------------------------------------------------------------

    def _swap(self, positions: Positions) -> None:
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            try:
                with self._transaction() as cur:
                    self._swap_tables(cur)
                    replace_positions(
                        self._dialect,
                        cur,
                        positions.position,
                        positions.consumer,
                        positions.offsets,
                    )
                return
            except Exception as error:
                if not _lock_timeout(error) or attempt == SWAP_ATTEMPTS:
                    raise
                log.warning("rebuild.swap_waiting", attempt=attempt, error=str(error).strip())

    def _swap_tables(self, cur: Cursor) -> None:
        if self._postgres:
            cur.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
            cur.execute("LOCK TABLE read_gate IN ACCESS EXCLUSIVE MODE")
        for table in VIEW_TABLES:
            cur.execute(f"DROP TABLE {table.name}")
            cur.execute(f"ALTER TABLE {PREFIX}{table.name} RENAME TO {table.name}")
            if self._postgres:
                cur.execute(f"ALTER INDEX {PREFIX}{table.name}_pkey RENAME TO {table.name}_pkey")
                for suffix, _ in table.indexes:
                    cur.execute(
                        f"ALTER INDEX {PREFIX}{table.name}_{suffix} RENAME TO {table.name}_{suffix}"
                    )
            else:
                for statement in table.index_statements():
                    cur.execute(statement)

    # -- transactions and the rebuild lock -----------------------------------------------------

    def _transaction(self) -> AbstractContextManager[Cursor]:
        return transaction(self._conn, self._dialect.begin_write)

    def _lock(self) -> None:
        if not self._postgres:
            return
        with self._transaction() as cur:
            cur.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (ADVISORY_REBUILD,)
            )
            acquired = cur.fetchone()[0]
        if not acquired:
            raise RebuildBusy("another rebuild of these views is running")
        self._locked = True

    def _unlock(self) -> None:
        if not self._locked:
            return
        with self._transaction() as cur:
            cur.execute(
                "SELECT pg_advisory_unlock(%s, hashtext(current_schema()))", (ADVISORY_REBUILD,)
            )
        self._locked = False


def _run_side_by_side(statements: Sequence[str], connect: Callable[[], Any], lanes: int) -> None:
    """Run the statements on `lanes` connections of their own, each taking the next one left;
    raises the first failure once all have stopped."""
    pending = list(reversed(statements))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def lane() -> None:
        connection = None
        try:
            connection = connect()
            connection.autocommit = True
            with connection.cursor() as cur:
                cur.execute("SET maintenance_work_mem = '256MB'")
                while not failures:
                    with lock:
                        if not pending:
                            return
                        statement = pending.pop()
                    cur.execute(statement)
        except BaseException as error:
            failures.append(error)
        finally:
            if connection is not None:
                connection.close()

    threads = [threading.Thread(target=lane, name=f"ntd-index-{n}") for n in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def _lock_timeout(error: Exception) -> bool:
    """Whether the swap gave up waiting for a lock (queries still running on the old views)."""
    return getattr(error, "pgcode", None) == "55P03"
