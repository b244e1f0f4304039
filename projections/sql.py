"""The SQL adapter: SQLite or PostgreSQL over DB-API, portable SQL, one transaction per batch.

Ids are stored as text and times as UTC ISO 8601 text with microseconds (see audit.stamp), so
text order is time order in both databases and audit rows hash the same on every engine.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from domain.case import Deadline, Lane, State
from domain.rules import Rules
from domain.values import DomainEvent
from projections.audit import COLUMNS as AUDIT_COLUMNS
from projections.audit import AuditChain, AuditRecord, Head, conditions, verify
from projections.dashboard import (
    TOP_SELLERS,
    Figures,
    Tally,
    assemble,
    hours_between,
    window_start,
)
from projections.encoding import stamp
from projections.handlers import project
from projections.models import (
    AuditQuery,
    AuditRow,
    AuditVerification,
    CaseSummary,
    Dashboard,
    DueDeadline,
    NotifierSummary,
    SellerFigure,
)
from projections.ports import NotifierRecord
from projections.staging import Batch, fresh

Cursor = Any
"""A DB-API cursor (sqlite3 or psycopg2)."""

POSITION_NAME = "ntd"
CHUNK = 500
"""Ids per IN (...) list."""
STREAM_ROWS = 2000
"""Rows fetched per round trip when streaming."""

CASE_COLUMNS = (
    "case_id",
    "notice_id",
    "notifier_id",
    "marketplace",
    "listing_id",
    "seller_id",
    "state",
    "lane",
    "filed_at",
    "taken_down_at",
    "declined_at",
    "counter_noticed",
    "reversed",
    "withdrawn",
)
CHAIN_COLUMNS = (
    "aggregate_id",
    "aggregate_type",
    "notice_id",
    "notifier_id",
    "seller_id",
    "head_version",
    "head_seq",
    "head_hash",
)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS read_position (
        name VARCHAR(100) PRIMARY KEY,
        last_seq BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS read_cases (
        case_id VARCHAR(36) PRIMARY KEY,
        notice_id VARCHAR(36) NOT NULL,
        notifier_id VARCHAR(36) NOT NULL,
        marketplace TEXT NOT NULL,
        listing_id TEXT NOT NULL,
        seller_id TEXT NOT NULL,
        state VARCHAR(40) NOT NULL,
        lane VARCHAR(20) NOT NULL,
        filed_at VARCHAR(32) NOT NULL,
        taken_down_at VARCHAR(32),
        declined_at VARCHAR(32),
        counter_noticed SMALLINT NOT NULL,
        reversed SMALLINT NOT NULL,
        withdrawn SMALLINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS read_cases_notifier ON read_cases (notifier_id, filed_at)",
    """CREATE TABLE IF NOT EXISTS read_deadlines (
        case_id VARCHAR(36) NOT NULL,
        kind VARCHAR(20) NOT NULL,
        notifier_id VARCHAR(36) NOT NULL,
        due_at VARCHAR(32) NOT NULL,
        PRIMARY KEY (case_id, kind))""",
    "CREATE INDEX IF NOT EXISTS read_deadlines_due ON read_deadlines (due_at)",
    "CREATE INDEX IF NOT EXISTS read_deadlines_notifier ON read_deadlines (notifier_id)",
    """CREATE TABLE IF NOT EXISTS read_breaches (
        seq BIGINT PRIMARY KEY,
        case_id VARCHAR(36) NOT NULL,
        notifier_id VARCHAR(36) NOT NULL,
        kind VARCHAR(20) NOT NULL,
        due_at VARCHAR(32) NOT NULL,
        missed_at VARCHAR(32) NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS read_breaches_notifier ON read_breaches (notifier_id)",
    """CREATE TABLE IF NOT EXISTS read_notifiers (
        notifier_id VARCHAR(36) PRIMARY KEY,
        name TEXT NOT NULL,
        in_trusted_lane SMALLINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS read_audit (
        seq BIGINT PRIMARY KEY,
        event_id VARCHAR(60) NOT NULL,
        aggregate_type VARCHAR(20) NOT NULL,
        aggregate_id VARCHAR(36) NOT NULL,
        version INTEGER NOT NULL,
        notice_id VARCHAR(36),
        notifier_id VARCHAR(36),
        seller_id TEXT,
        actor TEXT NOT NULL,
        event_type VARCHAR(60) NOT NULL,
        occurred_at VARCHAR(32) NOT NULL,
        payload TEXT NOT NULL,
        reasons TEXT,
        prev_hash CHAR(64) NOT NULL,
        hash CHAR(64) NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS read_audit_aggregate ON read_audit (aggregate_id, seq)",
    "CREATE INDEX IF NOT EXISTS read_audit_notice ON read_audit (notice_id, seq)",
    "CREATE INDEX IF NOT EXISTS read_audit_notifier ON read_audit (notifier_id, seq)",
    "CREATE INDEX IF NOT EXISTS read_audit_seller ON read_audit (seller_id, seq)",
    "CREATE INDEX IF NOT EXISTS read_audit_actor ON read_audit (actor, seq)",
    "CREATE INDEX IF NOT EXISTS read_audit_type ON read_audit (event_type, seq)",
    "CREATE INDEX IF NOT EXISTS read_audit_time ON read_audit (occurred_at)",
    """CREATE TABLE IF NOT EXISTS read_audit_chains (
        aggregate_id VARCHAR(36) PRIMARY KEY,
        aggregate_type VARCHAR(20) NOT NULL,
        notice_id VARCHAR(36),
        notifier_id VARCHAR(36),
        seller_id TEXT,
        head_version INTEGER NOT NULL,
        head_seq BIGINT NOT NULL,
        head_hash CHAR(64) NOT NULL)""",
)
TABLES = (
    "read_cases",
    "read_deadlines",
    "read_breaches",
    "read_notifiers",
    "read_audit",
    "read_audit_chains",
)


class Dialect:
    """SQLite: `?` placeholders, BEGIN IMMEDIATE to write, executemany, fetchmany streaming."""

    begin_write: str | None = "BEGIN IMMEDIATE"
    begin_read: str | None = "BEGIN"
    lock = ""

    def sql(self, text: str) -> str:
        """The statement in this driver's paramstyle (statements are written with `?`)."""
        return text

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

    def sql(self, text: str) -> str:
        """Statements are written with `?`; psycopg2 wants `%s`."""
        return text.replace("?", "%s")

    def insert_many(
        self, cur: Cursor, head: str, rows: Sequence[Sequence[Any]], tail: str = ""
    ) -> None:
        """One multi-row INSERT per thousand rows."""
        from psycopg2.extras import execute_values

        if rows:
            execute_values(cur, f"{head} VALUES %s{tail}", rows, page_size=1000)

    def stream(self, conn: Any, statement: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """Rows through a server-side cursor, a page at a time."""
        cur = conn.cursor(name=f"ntd_read_{uuid4().hex}")
        cur.itersize = STREAM_ROWS
        try:
            cur.execute(statement, params)
            yield from cur
        finally:
            cur.close()


def open_sqlite(path: str) -> SqlReadStore:
    """A store in a SQLite file (its folder is created), or `/:memory:` for a throwaway one."""
    if path in ("/:memory:", ":memory:"):
        target = ":memory:"
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        target = path
    conn = sqlite3.connect(target, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return SqlReadStore(conn, Dialect())


def open_postgres(url: str) -> SqlReadStore:
    """A store in a PostgreSQL database, e.g. postgresql://ntd:ntd@127.0.0.1:5432/ntd."""
    import psycopg2

    return SqlReadStore(psycopg2.connect(url), PostgresDialect())


class SqlReadStore:
    """A ReadStore over one DB-API connection; rows and position commit together."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self._conn = connection
        self._dialect = dialect
        with self._writing() as cur:
            for statement in SCHEMA:
                cur.execute(statement)
            cur.execute(
                self._sql(
                    "INSERT INTO read_position (name, last_seq) VALUES (?, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (POSITION_NAME,),
            )

    # -- transactions --------------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return self._dialect.sql(text)

    @contextmanager
    def _writing(self) -> Iterator[Cursor]:
        cur = self._conn.cursor()
        try:
            if self._dialect.begin_write:
                cur.execute(self._dialect.begin_write)
            yield cur
            self._conn.commit()
        except BaseException:
            self._conn.rollback()
            raise
        finally:
            cur.close()

    @contextmanager
    def _reading(self) -> Iterator[Cursor]:
        """One snapshot for every query inside; never writes."""
        cur = self._conn.cursor()
        try:
            if self._dialect.begin_read:
                cur.execute(self._dialect.begin_read)
            yield cur
        finally:
            cur.close()
            self._conn.rollback()

    # -- writing -------------------------------------------------------------------------------

    def position(self) -> int:
        """The last notification id applied (0 if none)."""
        with self._reading() as cur:
            return self._position(cur)

    def _position(self, cur: Cursor, lock: str = "") -> int:
        cur.execute(
            self._sql(f"SELECT last_seq FROM read_position WHERE name = ?{lock}"), (POSITION_NAME,)
        )
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def apply(self, batch: Sequence[tuple[int, DomainEvent]]) -> None:
        """Apply the events after the stored position; rows and position in one transaction."""
        with self._writing() as cur:
            events = fresh(batch, self._position(cur, self._dialect.lock))
            if not events:
                return
            staged = Batch(_Loader(self, cur))
            staged.prefetch(event for _, event in events)
            for seq, event in events:
                project(seq, event, staged)
            self._write(cur, staged)
            cur.execute(
                self._sql("UPDATE read_position SET last_seq = ? WHERE name = ?"),
                (events[-1][0], POSITION_NAME),
            )

    def _write(self, cur: Cursor, staged: Batch) -> None:
        insert = self._dialect.insert_many
        insert(
            cur,
            _insert_head("read_cases", CASE_COLUMNS),
            [_case_row(case) for case in staged.cases.values()],
            _upsert_tail("case_id", CASE_COLUMNS),
        )
        rewritten = staged.deadlines_changed()
        self._delete_in(cur, "read_deadlines", "case_id", [str(c.case_id) for c in rewritten])
        insert(
            cur,
            "INSERT INTO read_deadlines (case_id, kind, notifier_id, due_at)",
            [
                (str(c.case_id), kind.value, str(c.notifier_id), stamp(due))
                for c in rewritten
                for kind, due in c.deadlines.items()
            ],
        )
        insert(
            cur,
            "INSERT INTO read_breaches (seq, case_id, notifier_id, kind, due_at, missed_at)",
            [
                (
                    b.seq,
                    str(b.case_id),
                    str(b.notifier_id),
                    b.deadline.value,
                    stamp(b.due_at),
                    stamp(b.missed_at),
                )
                for b in staged.breaches
            ],
        )
        insert(
            cur,
            "INSERT INTO read_notifiers (notifier_id, name, in_trusted_lane)",
            [
                (str(n.notifier_id), n.name, int(n.in_trusted_lane))
                for n in staged.notifiers.values()
            ],
            _upsert_tail("notifier_id", ("notifier_id", "name", "in_trusted_lane")),
        )
        insert(cur, _insert_head("read_audit", AUDIT_COLUMNS), staged.records)
        insert(
            cur,
            _insert_head("read_audit_chains", CHAIN_COLUMNS),
            [_chain_row(chain) for chain in staged.chains.values()],
            _upsert_tail("aggregate_id", CHAIN_COLUMNS),
        )

    def _delete_in(self, cur: Cursor, table: str, column: str, keys: Sequence[str]) -> None:
        for part in _chunks(keys):
            marks = ", ".join("?" * len(part))
            cur.execute(self._sql(f"DELETE FROM {table} WHERE {column} IN ({marks})"), part)

    def select_in(
        self, cur: Cursor, statement: str, keys: Collection[UUID]
    ) -> list[tuple[Any, ...]]:
        """Rows of `statement` (with `{marks}` in its IN list) for the keys, a chunk at a time."""
        rows: list[tuple[Any, ...]] = []
        for part in _chunks([str(key) for key in keys]):
            cur.execute(self._sql(statement.format(marks=", ".join("?" * len(part)))), part)
            rows.extend(cur.fetchall())
        return rows

    def reset(self) -> None:
        """Delete every row and set the position back to 0."""
        with self._writing() as cur:
            for table in TABLES:
                cur.execute(f"DELETE FROM {table}")
            cur.execute(
                self._sql("UPDATE read_position SET last_seq = 0 WHERE name = ?"), (POSITION_NAME,)
            )

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # -- queries -------------------------------------------------------------------------------

    def dashboard(self, notifier_id: UUID, now: datetime, rules: Rules) -> Dashboard:
        """A notifier's figures, aggregated in SQL from the case summaries, in one snapshot."""
        nid = str(notifier_id)
        start = window_start(now, rules)
        with self._reading() as cur:
            cur.execute(
                self._sql("SELECT name, in_trusted_lane FROM read_notifiers WHERE notifier_id = ?"),
                (nid,),
            )
            notifier = cur.fetchone()
            figures = Figures(
                notifier_id=notifier_id,
                name=notifier[0] if notifier else None,
                in_trusted_lane=bool(notifier[1]) if notifier else False,
                as_of=now,
                window_start=start,
                total=self._tally(cur, nid),
                window=self._tally(cur, nid, (stamp(start), stamp(now))),
                cases_by_state={
                    State(state): count
                    for state, count in self._rows(
                        cur,
                        "SELECT state, COUNT(*) FROM read_cases WHERE notifier_id = ? "
                        "GROUP BY state",
                        nid,
                    )
                },
                filed_per_day=dict(
                    self._rows(
                        cur,
                        "SELECT substr(filed_at, 1, 10), COUNT(*) FROM read_cases "
                        "WHERE notifier_id = ? GROUP BY substr(filed_at, 1, 10)",
                        nid,
                    )
                ),
                hours_to_takedown=[
                    hours_between(datetime.fromisoformat(filed), datetime.fromisoformat(taken))
                    for filed, taken in self._rows(
                        cur,
                        "SELECT filed_at, taken_down_at FROM read_cases "
                        "WHERE notifier_id = ? AND taken_down_at IS NOT NULL",
                        nid,
                    )
                ],
                open_deadlines=self._per_deadline(cur, "read_deadlines", nid),
                breaches=self._per_deadline(cur, "read_breaches", nid),
                top_sellers=self._top_sellers(cur, nid),
            )
        return assemble(figures, rules)

    def _rows(self, cur: Cursor, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        cur.execute(self._sql(statement), params)
        return list(cur.fetchall())

    def _tally(self, cur: Cursor, nid: str, window: tuple[str, str] | None = None) -> Tally:
        within = " AND filed_at >= ? AND filed_at <= ?" if window else ""
        cur.execute(
            self._sql(
                "SELECT COUNT(*),"
                " SUM(CASE WHEN taken_down_at IS NOT NULL OR declined_at IS NOT NULL"
                " THEN 1 ELSE 0 END),"
                " COUNT(taken_down_at),"
                " SUM(CASE WHEN taken_down_at IS NOT NULL AND reversed = 1 THEN 1 ELSE 0 END),"
                " COUNT(declined_at),"
                " SUM(CASE WHEN taken_down_at IS NOT NULL AND counter_noticed = 1"
                " THEN 1 ELSE 0 END),"
                " SUM(withdrawn)"
                f" FROM read_cases WHERE notifier_id = ?{within}"
            ),
            (nid, *(window or ())),
        )
        return Tally(*(int(value or 0) for value in cur.fetchone()))

    def _per_deadline(self, cur: Cursor, table: str, nid: str) -> dict[Deadline, int]:
        statement = f"SELECT kind, COUNT(*) FROM {table} WHERE notifier_id = ? GROUP BY kind"
        return {Deadline(kind): count for kind, count in self._rows(cur, statement, nid)}

    def _top_sellers(self, cur: Cursor, nid: str) -> list[SellerFigure]:
        """The five best-placed sellers and any tied with the fifth (ties are broken in Python)."""
        kept = (
            " FROM read_cases WHERE notifier_id = ? AND taken_down_at IS NOT NULL AND reversed = 0"
            " GROUP BY seller_id, marketplace"
        )
        counts = self._rows(
            cur, f"SELECT COUNT(*){kept} ORDER BY COUNT(*) DESC LIMIT {TOP_SELLERS}", nid
        )
        if not counts:
            return []
        rows = self._rows(
            cur,
            f"SELECT seller_id, marketplace, COUNT(*){kept} HAVING COUNT(*) >= ?",
            nid,
            counts[-1][0],
        )
        return [SellerFigure(seller_id=s, marketplace=m, takedowns=n) for s, m, n in rows]

    def notifiers(self) -> list[NotifierSummary]:
        """Every notifier with its lane and case count, most cases first."""
        with self._reading() as cur:
            rows = self._rows(
                cur,
                "SELECT n.notifier_id, n.name, n.in_trusted_lane, COUNT(c.case_id)"
                " FROM read_notifiers n LEFT JOIN read_cases c ON c.notifier_id = n.notifier_id"
                " GROUP BY n.notifier_id, n.name, n.in_trusted_lane",
            )
        summaries = [
            NotifierSummary(notifier_id=i, name=name, in_trusted_lane=bool(lane), cases=count)
            for i, name, lane, count in rows
        ]
        return sorted(summaries, key=lambda s: (-s.cases, s.name, str(s.notifier_id)))

    def case(self, case_id: UUID) -> CaseSummary | None:
        """One case's summary, or None."""
        with self._reading() as cur:
            return _Loader(self, cur).load_cases([case_id]).get(case_id)

    def audit_query(self, query: AuditQuery) -> Iterator[AuditRow]:
        """Matching audit rows in seq order, streamed from one snapshot."""
        wanted = conditions(query)
        where = " AND ".join(f"{column} {op} ?" for column, op, _ in wanted)
        statement = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM read_audit"
        statement += f" WHERE {where}" if where else ""
        with self._reading():
            for row in self._dialect.stream(
                self._conn, self._sql(statement + " ORDER BY seq"), [v for _, _, v in wanted]
            ):
                yield AuditRecord(*row).to_row()

    def verify_audit(self) -> AuditVerification:
        """Walk every audit chain against the recorded heads, in one snapshot."""
        with self._reading() as cur:
            heads = {
                aggregate: Head(version, seq, digest)
                for aggregate, version, seq, digest in self._rows(
                    cur,
                    "SELECT aggregate_id, head_version, head_seq, head_hash FROM read_audit_chains",
                )
            }
            statement = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM read_audit ORDER BY seq"
            records = (AuditRecord(*row) for row in self._dialect.stream(self._conn, statement, ()))
            return verify(records, heads)

    def due_deadlines(self, now: datetime) -> list[DueDeadline]:
        """Open deadlines due at or before `now`, earliest first."""
        with self._reading() as cur:
            rows = self._rows(
                cur,
                "SELECT case_id, kind, due_at FROM read_deadlines WHERE due_at <= ?"
                " ORDER BY due_at, case_id, kind",
                stamp(now),
            )
        return [DueDeadline(case_id=c, deadline=kind, due_at=due) for c, kind, due in rows]


class _Loader:
    """What a batch reads, fetched with the batch's own cursor inside its transaction."""

    def __init__(self, store: SqlReadStore, cur: Cursor) -> None:
        self._store = store
        self._cur = cur

    def load_cases(self, case_ids: Collection[UUID]) -> dict[UUID, CaseSummary]:
        """The stored cases among these ids, with their open deadlines."""
        deadlines: dict[str, dict[Deadline, datetime]] = {}
        for case_id, kind, due in self._store.select_in(
            self._cur,
            "SELECT case_id, kind, due_at FROM read_deadlines WHERE case_id IN ({marks})",
            case_ids,
        ):
            deadlines.setdefault(case_id, {})[Deadline(kind)] = datetime.fromisoformat(due)
        rows = self._store.select_in(
            self._cur,
            f"SELECT {', '.join(CASE_COLUMNS)} FROM read_cases WHERE case_id IN ({{marks}})",
            case_ids,
        )
        cases = (_case_from_row(row, deadlines.get(row[0], {})) for row in rows)
        return {case.case_id: case for case in cases}

    def load_notifiers(self, notifier_ids: Collection[UUID]) -> dict[UUID, NotifierRecord]:
        """The stored notifiers among these ids."""
        rows = self._store.select_in(
            self._cur,
            "SELECT notifier_id, name, in_trusted_lane FROM read_notifiers"
            " WHERE notifier_id IN ({marks})",
            notifier_ids,
        )
        return {UUID(i): NotifierRecord(UUID(i), name, bool(lane)) for i, name, lane in rows}

    def load_chains(self, aggregate_ids: Collection[UUID]) -> dict[UUID, AuditChain]:
        """The stored audit chains among these ids."""
        rows = self._store.select_in(
            self._cur,
            f"SELECT {', '.join(CHAIN_COLUMNS)} FROM read_audit_chains"
            " WHERE aggregate_id IN ({marks})",
            aggregate_ids,
        )
        return {UUID(row[0]): AuditChain(UUID(row[0]), *row[1:]) for row in rows}


def _insert_head(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)})"


def _upsert_tail(key: str, columns: Iterable[str]) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return f" ON CONFLICT ({key}) DO UPDATE SET {updates}"


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), CHUNK):
        yield keys[start : start + CHUNK]


def _case_row(case: CaseSummary) -> tuple[Any, ...]:
    return (
        str(case.case_id),
        str(case.notice_id),
        str(case.notifier_id),
        case.marketplace,
        case.listing_id,
        case.seller_id,
        case.state.value,
        case.lane.value,
        stamp(case.filed_at),
        stamp(case.taken_down_at) if case.taken_down_at else None,
        stamp(case.declined_at) if case.declined_at else None,
        int(case.counter_noticed),
        int(case.reversed),
        int(case.withdrawn),
    )


def _case_from_row(row: Sequence[Any], deadlines: dict[Deadline, datetime]) -> CaseSummary:
    """A stored case row back as a summary; the row was written by _case_row, so no validation."""
    (
        case_id,
        notice_id,
        notifier_id,
        market,
        listing,
        seller,
        state,
        lane,
        filed,
        taken,
        declined,
    ) = row[:11]
    return CaseSummary.model_construct(
        case_id=UUID(case_id),
        notice_id=UUID(notice_id),
        notifier_id=UUID(notifier_id),
        marketplace=market,
        listing_id=listing,
        seller_id=seller,
        state=State(state),
        lane=Lane(lane),
        filed_at=datetime.fromisoformat(filed),
        taken_down_at=datetime.fromisoformat(taken) if taken else None,
        declined_at=datetime.fromisoformat(declined) if declined else None,
        counter_noticed=bool(row[11]),
        reversed=bool(row[12]),
        withdrawn=bool(row[13]),
        deadlines=deadlines,
    )


def _chain_row(chain: AuditChain) -> tuple[Any, ...]:
    return (
        str(chain.aggregate_id),
        chain.aggregate_type,
        chain.notice_id,
        chain.notifier_id,
        chain.seller_id,
        chain.head_version,
        chain.head_seq,
        chain.head_hash,
    )
