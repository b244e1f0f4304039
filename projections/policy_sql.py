"""The policy view in SQL (SQLite or PostgreSQL), beside the read models in the same database.

One transaction per batch: the position row is locked first, so policy batches run one at a
time whatever feeds them; the runner's commands go to the event store inside that transaction,
and the view's rows and positions commit only after them (a crash in between redelivers the
batch, and the aggregates refuse what they already did).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.figures import CaseFacts
from domain.policies import SellerRecord, Standing
from domain.values import DomainEvent
from projections.encoding import stamp
from projections.policy_view import PolicyBatch, React, react_tracked
from projections.schema_lock import lock_schema
from projections.sql.dialect import add_missing_columns, transaction
from projections.staging import fresh
from projections.tracking import Applied, Partition, Span, Tracked, advanced, select

Cursor = Any
CHUNK = 500
LOG = "log"

CASE_COLUMNS = (
    "case_id",
    "notifier_id",
    "marketplace",
    "seller_ref",
    "filed_at",
    "taken_down",
    "declined",
    "reversed",
    "notice_id",
    "stands",
    "window_closed",
    "appeal_rejected",
)
NOTIFIER_COLUMNS = (
    "notifier_id",
    "version",
    "in_lane",
    "may_reapply_on",
    "warned_at",
    "suspended_until",
)
SELLER_COLUMNS = (
    "seller_id",
    "suspended",
    "strikes",
    "removed",
    "suspensions",
    "lifted",
    "notices",
)
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS policy_position (
        name VARCHAR(100) PRIMARY KEY,
        last_seq BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS policy_offsets (
        topic VARCHAR(250) NOT NULL,
        partition_no INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (topic, partition_no))""",
    """CREATE TABLE IF NOT EXISTS policy_cases (
        case_id VARCHAR(36) PRIMARY KEY,
        notifier_id VARCHAR(36) NOT NULL,
        marketplace TEXT NOT NULL,
        seller_ref TEXT NOT NULL,
        filed_at VARCHAR(32) NOT NULL,
        taken_down SMALLINT NOT NULL,
        declined SMALLINT NOT NULL,
        reversed SMALLINT NOT NULL,
        notice_id VARCHAR(36),
        stands SMALLINT NOT NULL DEFAULT 0,
        window_closed SMALLINT NOT NULL DEFAULT 0,
        appeal_rejected SMALLINT NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS policy_cases_notifier ON policy_cases (notifier_id, filed_at)",
    """CREATE TABLE IF NOT EXISTS policy_notifiers (
        notifier_id VARCHAR(36) PRIMARY KEY,
        version INTEGER NOT NULL,
        in_lane SMALLINT NOT NULL,
        may_reapply_on VARCHAR(10),
        warned_at VARCHAR(32),
        suspended_until VARCHAR(32))""",
    """CREATE TABLE IF NOT EXISTS policy_sellers (
        seller_id VARCHAR(36) PRIMARY KEY,
        suspended SMALLINT NOT NULL,
        strikes TEXT NOT NULL,
        removed TEXT NOT NULL,
        suspensions TEXT NOT NULL DEFAULT '{}',
        lifted TEXT NOT NULL DEFAULT '[]',
        notices TEXT NOT NULL DEFAULT '[]')""",
    """CREATE TABLE IF NOT EXISTS policy_versions (
        aggregate_id VARCHAR(36) PRIMARY KEY,
        version INTEGER NOT NULL)""",
)
ADDED_COLUMNS = (
    ("policy_cases", "notice_id", "VARCHAR(36)"),
    ("policy_cases", "stands", "SMALLINT NOT NULL DEFAULT 0"),
    ("policy_cases", "window_closed", "SMALLINT NOT NULL DEFAULT 0"),
    ("policy_cases", "appeal_rejected", "SMALLINT NOT NULL DEFAULT 0"),
    ("policy_sellers", "suspensions", "TEXT NOT NULL DEFAULT '{}'"),
    ("policy_sellers", "lifted", "TEXT NOT NULL DEFAULT '[]'"),
    ("policy_sellers", "notices", "TEXT NOT NULL DEFAULT '[]'"),
)
"""Columns a view created before them lacks, added at start-up. Rows written before hold the
defaults: their cases never count as final or settled and their strikes name no notice. For
exact figures, reset the view and run the policies over the log again: every command they give
again is found already done."""
TABLES = ("policy_offsets", "policy_cases", "policy_notifiers", "policy_sellers", "policy_versions")


def open_sql_policy_store(url: str, window_days: int) -> SqlPolicyStore:
    """`sqlite:///ABS/PATH.db` (or `sqlite:///:memory:`) or `postgresql://…`."""
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if path in ("/:memory:", ":memory:"):
            path = ":memory:"
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # the consumer loop applies batches on its sink thread, one at a time: the connection
        # is opened on the main thread and used there (as the read models' is)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        return SqlPolicyStore(conn, postgres=False, window_days=window_days)
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg2

        return SqlPolicyStore(psycopg2.connect(url), postgres=True, window_days=window_days)
    raise ValueError(f"policy store URL {url!r} is not sqlite:///… or postgresql://…")


class SqlPolicyStore:
    """A PolicyStore over one DB-API connection."""

    def __init__(self, connection: Any, *, postgres: bool, window_days: int) -> None:
        self._conn = connection
        self._postgres = postgres
        self.window_days = window_days
        with self._writing() as cur:
            if postgres:
                lock_schema(cur)  # processes starting together take turns at creating tables
            for statement in SCHEMA:
                cur.execute(statement)
            add_missing_columns(cur, self._postgres, ADDED_COLUMNS)
            cur.execute(
                self._sql(
                    "INSERT INTO policy_position (name, last_seq) VALUES (?, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (LOG,),
            )

    # -- batches -------------------------------------------------------------------------------

    def position(self) -> int:
        """The last notification id the policies handled from the log (0 if none)."""
        with self._reading() as cur:
            return self._position(cur)

    def apply(
        self, batch: Sequence[tuple[int, DomainEvent]], react: React, through: int = 0
    ) -> int:
        """React to the events after the position; view and position commit together."""
        with self._writing() as cur:
            position = self._position(cur, lock=True)
            events = fresh(batch, position)
            self._run(cur, [event for _, event in events], react)
            last = max(position, through, *(seq for seq, _ in events[-1:]))
            if last != position:
                cur.execute(
                    self._sql("UPDATE policy_position SET last_seq = ? WHERE name = ?"),
                    (last, LOG),
                )
            return len(events)

    def apply_tracked(
        self, records: Sequence[Tracked], spans: Mapping[Partition, Span], react: React
    ) -> Applied:
        """React to the consumed records not applied before, each event once (see
        `react_tracked`); view and offsets commit together."""
        with self._writing() as cur:
            watermark = self._position(cur, lock=True)
            stored = self._offsets(cur)
            chosen = select(records, spans, stored, watermark)
            staged = PolicyBatch(_Loader(self, cur), self.window_days)
            applied = react_tracked(chosen, staged, react)
            self._write(cur, staged)
            self._insert_many(
                cur,
                "INSERT INTO policy_offsets (topic, partition_no, next_offset)",
                [(t, p, o) for (t, p), o in advanced(spans, stored).items()],
                " ON CONFLICT (topic, partition_no) DO UPDATE SET next_offset = "
                "excluded.next_offset",
            )
            return applied

    def offsets(self) -> dict[Partition, int]:
        """The next offset to read, per partition."""
        with self._reading() as cur:
            return self._offsets(cur)

    def reset(self) -> None:
        """Delete every row and set the log position back to 0."""
        with self._writing() as cur:
            self._position(cur, lock=True)
            for table in TABLES:
                cur.execute(f"DELETE FROM {table}")
            cur.execute(self._sql("UPDATE policy_position SET last_seq = 0 WHERE name = ?"), (LOG,))

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def _run(self, cur: Cursor, events: Sequence[DomainEvent], react: React) -> None:
        staged = PolicyBatch(_Loader(self, cur), self.window_days)
        staged.prefetch(events)
        for event in events:
            react(event, staged)
        self._write(cur, staged)

    def _write(self, cur: Cursor, staged: PolicyBatch) -> None:
        self._insert_many(
            cur,
            f"INSERT INTO policy_cases ({', '.join(CASE_COLUMNS)})",
            [_case_row(case) for case in staged.cases.values()],
            _upsert("case_id", CASE_COLUMNS),
        )
        self._insert_many(
            cur,
            f"INSERT INTO policy_notifiers ({', '.join(NOTIFIER_COLUMNS)})",
            [_standing_row(standing) for standing in staged.standings.values()],
            _upsert("notifier_id", NOTIFIER_COLUMNS),
        )
        self._insert_many(
            cur,
            f"INSERT INTO policy_sellers ({', '.join(SELLER_COLUMNS)})",
            [_seller_row(seller) for seller in staged.sellers.values()],
            _upsert("seller_id", SELLER_COLUMNS),
        )
        self._insert_many(
            cur,
            "INSERT INTO policy_versions (aggregate_id, version)",
            [(str(aggregate_id), version) for aggregate_id, version in staged.versions.items()],
            _upsert("aggregate_id", ("aggregate_id", "version")),
        )

    # -- SQL -----------------------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self._postgres else text

    def _writing(self) -> AbstractContextManager[Cursor]:
        return transaction(self._conn, None if self._postgres else "BEGIN IMMEDIATE")

    @contextmanager
    def _reading(self) -> Iterator[Cursor]:
        cur = self._conn.cursor()
        try:
            yield cur
        finally:
            cur.close()
            self._conn.rollback()

    def _position(self, cur: Cursor, lock: bool = False) -> int:
        suffix = " FOR UPDATE" if lock and self._postgres else ""
        cur.execute(
            self._sql(f"SELECT last_seq FROM policy_position WHERE name = ?{suffix}"), (LOG,)
        )
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def _offsets(self, cur: Cursor) -> dict[Partition, int]:
        cur.execute("SELECT topic, partition_no, next_offset FROM policy_offsets")
        return {(topic, int(number)): int(offset) for topic, number, offset in cur.fetchall()}

    def _insert_many(
        self, cur: Cursor, head: str, rows: Sequence[Sequence[Any]], tail: str = ""
    ) -> None:
        if not rows:
            return
        if self._postgres:
            from psycopg2.extras import execute_values

            execute_values(cur, f"{head} VALUES %s{tail}", rows, page_size=1000)
        else:
            cur.executemany(f"{head} VALUES ({', '.join('?' * len(rows[0]))}){tail}", rows)

    def select_in(
        self, cur: Cursor, statement: str, keys: Collection[UUID], *extra: Any
    ) -> list[tuple[Any, ...]]:
        """Rows of `statement` (`{marks}` in its IN list, then `extra` parameters), chunked."""
        rows: list[tuple[Any, ...]] = []
        ids = [str(key) for key in keys]
        for start in range(0, len(ids), CHUNK):
            part = ids[start : start + CHUNK]
            marks = ", ".join("?" * len(part))
            cur.execute(self._sql(statement.format(marks=marks)), (*part, *extra))
            rows.extend(cur.fetchall())
        return rows


class _Loader:
    """What a batch reads, with the batch's own cursor inside its transaction."""

    def __init__(self, store: SqlPolicyStore, cur: Cursor) -> None:
        self._store = store
        self._cur = cur

    def load_cases(self, case_ids: Collection[UUID]) -> dict[UUID, CaseFacts]:
        """The stored facts among these cases."""
        rows = self._store.select_in(
            self._cur,
            f"SELECT {', '.join(CASE_COLUMNS)} FROM policy_cases WHERE case_id IN ({{marks}})",
            case_ids,
        )
        return {case.case_id: case for case in map(_case_from_row, rows)}

    def load_recent(
        self, notifier_ids: Collection[UUID], since: datetime | None
    ) -> list[CaseFacts]:
        """The notifiers' cases filed at or after `since`."""
        statement = (
            f"SELECT {', '.join(CASE_COLUMNS)} FROM policy_cases WHERE notifier_id IN ({{marks}})"
        )
        if since is None:
            rows = self._store.select_in(self._cur, statement, notifier_ids)
        else:
            statement += " AND filed_at >= ?"
            rows = self._store.select_in(self._cur, statement, notifier_ids, stamp(since))
        return [_case_from_row(row) for row in rows]

    def load_standings(self, notifier_ids: Collection[UUID]) -> dict[UUID, Standing]:
        """The stored standings among these notifiers."""
        rows = self._store.select_in(
            self._cur,
            f"SELECT {', '.join(NOTIFIER_COLUMNS)} FROM policy_notifiers"
            " WHERE notifier_id IN ({marks})",
            notifier_ids,
        )
        return {standing.notifier_id: standing for standing in map(_standing_from_row, rows)}

    def load_sellers(self, seller_ids: Collection[UUID]) -> dict[UUID, SellerRecord]:
        """The stored records among these sellers."""
        rows = self._store.select_in(
            self._cur,
            f"SELECT {', '.join(SELLER_COLUMNS)} FROM policy_sellers"
            " WHERE seller_id IN ({marks})",
            seller_ids,
        )
        return {seller.seller_id: seller for seller in map(_seller_from_row, rows)}

    def load_versions(self, aggregate_ids: Collection[UUID]) -> dict[UUID, int]:
        """The last version handled of each of these aggregates seen."""
        rows = self._store.select_in(
            self._cur,
            "SELECT aggregate_id, version FROM policy_versions WHERE aggregate_id IN ({marks})",
            aggregate_ids,
        )
        return {UUID(aggregate_id): int(version) for aggregate_id, version in rows}


def _upsert(key: str, columns: Sequence[str]) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return f" ON CONFLICT ({key}) DO UPDATE SET {updates}"


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _case_row(case: CaseFacts) -> tuple[Any, ...]:
    return (
        str(case.case_id),
        str(case.notifier_id),
        case.marketplace,
        case.seller_ref,
        stamp(case.filed_at),
        int(case.taken_down),
        int(case.declined),
        int(case.reversed),
        str(case.notice_id) if case.notice_id else None,
        int(case.stands),
        int(case.window_closed),
        int(case.appeal_rejected),
    )


def _case_from_row(row: Sequence[Any]) -> CaseFacts:
    case_id, notifier_id, marketplace, seller_ref, filed_at, taken, declined, reversed_ = row[:8]
    notice_id, stands, window_closed, appeal_rejected = row[8:]
    return CaseFacts(
        UUID(case_id),
        UUID(notifier_id),
        marketplace,
        seller_ref,
        datetime.fromisoformat(filed_at),
        bool(taken),
        bool(declined),
        bool(reversed_),
        UUID(notice_id) if notice_id else None,
        bool(stands),
        bool(window_closed),
        bool(appeal_rejected),
    )


def _standing_row(standing: Standing) -> tuple[Any, ...]:
    return (
        str(standing.notifier_id),
        standing.version,
        int(standing.in_lane),
        standing.may_reapply_on.isoformat() if standing.may_reapply_on else None,
        stamp(standing.warned_at) if standing.warned_at else None,
        stamp(standing.suspended_until) if standing.suspended_until else None,
    )


def _standing_from_row(row: Sequence[Any]) -> Standing:
    notifier_id, version, in_lane, reapply, warned_at, suspended_until = row
    return Standing(
        UUID(notifier_id),
        int(version),
        bool(in_lane),
        date.fromisoformat(reapply) if reapply else None,
        _when(warned_at),
        _when(suspended_until),
    )


INDEFINITE = "before terms"
"""The key a row written before suspensions had terms gives its suspension (it never ends)."""


def _seller_row(seller: SellerRecord) -> tuple[Any, ...]:
    strikes = {str(case): stamp(expires) for case, expires in seller.strikes.items()}
    suspensions = {
        key: stamp(until) if until else None for key, until in seller.suspensions.items()
    }
    return (
        str(seller.seller_id),
        int(bool(seller.suspensions.keys() - seller.lifted)),
        json.dumps(strikes, sort_keys=True),
        json.dumps(sorted(str(case) for case in seller.removed)),
        json.dumps(suspensions, sort_keys=True),
        json.dumps(sorted(seller.lifted)),
        json.dumps(
            {str(case): str(notice) for case, notice in seller.notices.items()}, sort_keys=True
        ),
    )


def _notices(stored: Any) -> dict[UUID, UUID]:
    """Each strike's notice by case; a list (the first form of this column, notices without
    their cases) reads as none."""
    if not isinstance(stored, dict):
        return {}
    return {UUID(case): UUID(notice) for case, notice in stored.items()}


def _seller_from_row(row: Sequence[Any]) -> SellerRecord:
    seller_id, suspended, strikes, removed, suspensions, lifted, notices = row
    terms = {key: _when(until) for key, until in json.loads(suspensions).items()}
    if suspended and not terms:
        terms = {INDEFINITE: None}
    return SellerRecord(
        UUID(seller_id),
        {UUID(case): datetime.fromisoformat(at) for case, at in json.loads(strikes).items()},
        frozenset(UUID(case) for case in json.loads(removed)),
        terms,
        frozenset(json.loads(lifted)),
        _notices(json.loads(notices)),
    )
