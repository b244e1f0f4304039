"""The SQL adapter: SQLite or PostgreSQL over DB-API, portable SQL, one transaction per batch.

Ids are stored as text and times as UTC ISO 8601 text with microseconds (see audit.stamp), so
text order is time order in both databases and audit rows hash the same on every engine.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
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
from projections.ports import Breach, NotifierRecord
from projections.rebuild import payloads_of
from projections.schema_lock import lock_schema
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

if TYPE_CHECKING:
    from projections.sql_rebuild import SqlStaging

Cursor = Any
"""A DB-API cursor (sqlite3 or psycopg2)."""

POSITION_NAME = "ntd"
ADVISORY_CONSUMER = 7101
"""First key of the advisory locks a consumer's transactions take on PostgreSQL."""
CHUNK = 500
"""Ids per IN (...) list on SQLite (PostgreSQL takes them as one array)."""
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


@dataclass(frozen=True)
class Table:
    """One view table: its columns, primary key and secondary indexes (name suffix, columns)."""

    name: str
    columns: str
    key: str
    indexes: tuple[tuple[str, str], ...] = ()

    def create(self, name: str | None = None, keyed: bool = True) -> str:
        """CREATE TABLE for this table (under another name, e.g. a rebuild's staging table)."""
        key = f", PRIMARY KEY ({self.key})" if keyed else ""
        return f"CREATE TABLE IF NOT EXISTS {name or self.name} ({self.columns}{key})"

    @property
    def column_names(self) -> tuple[str, ...]:
        """The columns, in order."""
        return tuple(line.split()[0] for line in self.columns.split(","))

    def index_statements(self, name: str | None = None) -> list[str]:
        """CREATE INDEX for each secondary index, named `<table>_<suffix>`."""
        table = name or self.name
        return [
            f"CREATE INDEX IF NOT EXISTS {table}_{suffix} ON {table} ({columns})"
            for suffix, columns in self.indexes
        ]


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


VIEW_TABLES = (
    Table(
        "read_cases",
        """case_id VARCHAR(36) NOT NULL,
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
        withdrawn SMALLINT NOT NULL""",
        "case_id",
        (("notifier", "notifier_id, filed_at"),),
    ),
    Table(
        "read_deadlines",
        """case_id VARCHAR(36) NOT NULL,
        kind VARCHAR(20) NOT NULL,
        notifier_id VARCHAR(36) NOT NULL,
        due_at VARCHAR(32) NOT NULL""",
        "case_id, kind",
        (("due", "due_at"), ("notifier", "notifier_id")),
    ),
    Table(
        "read_breaches",
        """seq BIGINT NOT NULL,
        case_id VARCHAR(36) NOT NULL,
        notifier_id VARCHAR(36) NOT NULL,
        kind VARCHAR(20) NOT NULL,
        due_at VARCHAR(32) NOT NULL,
        missed_at VARCHAR(32) NOT NULL""",
        "seq",
        (("notifier", "notifier_id"),),
    ),
    Table(
        "read_notifiers",
        """notifier_id VARCHAR(36) NOT NULL,
        name TEXT NOT NULL,
        in_trusted_lane SMALLINT NOT NULL""",
        "notifier_id",
    ),
    Table(
        "read_audit",
        """seq BIGINT NOT NULL,
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
        hash CHAR(64) NOT NULL""",
        "seq",
        (
            ("aggregate", "aggregate_id, seq"),
            ("notice", "notice_id, seq"),
            ("notifier", "notifier_id, seq"),
            ("seller", "seller_id, seq"),
            ("actor", "actor, seq"),
            ("type", "event_type, seq"),
            ("time", "occurred_at"),
        ),
    ),
    Table(
        "read_audit_chains",
        """aggregate_id VARCHAR(36) NOT NULL,
        aggregate_type VARCHAR(20) NOT NULL,
        notice_id VARCHAR(36),
        notifier_id VARCHAR(36),
        seller_id TEXT,
        head_version INTEGER NOT NULL,
        head_seq BIGINT NOT NULL,
        head_hash CHAR(64) NOT NULL""",
        "aggregate_id",
    ),
)
"""The tables a rebuild replaces; every one of them is written by apply()."""

TABLES = tuple(table.name for table in VIEW_TABLES)
AUDIT, BREACHES = (
    next(t for t in VIEW_TABLES if t.name == n) for n in ("read_audit", "read_breaches")
)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS read_position (
        name VARCHAR(100) PRIMARY KEY,
        last_seq BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ntd_consumer_offsets (
        consumer VARCHAR(100) NOT NULL,
        topic VARCHAR(249) NOT NULL,
        partition INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (consumer, topic, partition))""",
    "CREATE TABLE IF NOT EXISTS read_gate (generation INTEGER)",
    *(table.create() for table in VIEW_TABLES),
    *(statement for table in VIEW_TABLES for statement in table.index_statements()),
)
"""Positions (log watermark and Kafka offsets), the swap gate, then the views."""


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
            cur.execute(
                self._sql(
                    "INSERT INTO read_position (name, last_seq) VALUES (?, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (POSITION_NAME,),
            )

    @property
    def connection(self) -> Any:
        """The DB-API connection (a rebuild's staging writes through it)."""
        return self._conn

    @property
    def dialect(self) -> Dialect:
        """What differs between SQLite and PostgreSQL."""
        return self._dialect

    # -- transactions --------------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return self._dialect.sql(text)

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
            staged = Batch(_Loader(self, cur), payloads_of(batch))
            staged.prefetch(event for _, event in events)
            for seq, event in events:
                project(seq, event, staged)
            self._write(cur, staged)
            cur.execute(
                self._sql("UPDATE read_position SET last_seq = ? WHERE name = ?"),
                (events[-1][0], POSITION_NAME),
            )

    def offsets(
        self, consumer: str, partitions: Collection[Partition] | None = None
    ) -> dict[Partition, int]:
        """The stored next offset of each partition (of those given) that has one."""
        with self._reading() as cur:
            stored = self._offsets(cur, consumer)
        if partitions is None:
            return stored
        return {p: stored[p] for p in partitions if p in stored}

    def _offsets(self, cur: Cursor, consumer: str) -> dict[Partition, int]:
        cur.execute(
            self._sql(
                "SELECT topic, partition, next_offset FROM ntd_consumer_offsets WHERE consumer = ?"
            ),
            (consumer,),
        )
        return {(topic, int(partition)): int(offset) for topic, partition, offset in cur}

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
            stored = self._offsets(cur, consumer)
            chosen = select(records, spans, stored, self._position(cur))
            applied = Applied()
            if chosen:
                staged = Batch(_Loader(self, cur), payloads(chosen))
                applied = project_tracked(chosen, staged)
                self._write(cur, staged)
            self._store_offsets(cur, consumer, advanced(spans, stored))
        return applied

    def _store_offsets(self, cur: Cursor, consumer: str, offsets: Mapping[Partition, int]) -> None:
        self._dialect.insert_many(
            cur,
            "INSERT INTO ntd_consumer_offsets (consumer, topic, partition, next_offset)",
            [
                (consumer, topic, partition, offset)
                for (topic, partition), offset in offsets.items()
            ],
            " ON CONFLICT (consumer, topic, partition)"
            " DO UPDATE SET next_offset = excluded.next_offset",
        )

    def replace_positions(
        self, cur: Cursor, position: int, consumer: str, offsets: Mapping[Partition, int]
    ) -> None:
        """Set the log watermark and make `offsets` the consumer's only stored offsets."""
        cur.execute(
            self._sql("UPDATE read_position SET last_seq = ? WHERE name = ?"),
            (position, POSITION_NAME),
        )
        cur.execute(self._sql("DELETE FROM ntd_consumer_offsets WHERE consumer = ?"), (consumer,))
        self._store_offsets(cur, consumer, offsets)

    def _write(self, cur: Cursor, staged: Batch) -> None:
        insert = self._dialect.insert_many
        insert(
            cur,
            _insert_head("read_cases", CASE_COLUMNS),
            [case_row(case) for case in staged.cases.values()],
            _upsert_tail("case_id", CASE_COLUMNS),
        )
        rewritten = staged.deadlines_changed()
        self._delete_in(cur, "read_deadlines", "case_id", [str(c.case_id) for c in rewritten])
        insert(
            cur,
            "INSERT INTO read_deadlines (case_id, kind, notifier_id, due_at)",
            [row for case in rewritten for row in deadline_rows(case)],
        )
        self._dialect.copy(cur, BREACHES, "read_breaches", [breach_row(b) for b in staged.breaches])
        insert(
            cur,
            "INSERT INTO read_notifiers (notifier_id, name, in_trusted_lane)",
            [notifier_row(n) for n in staged.notifiers.values()],
            _upsert_tail("notifier_id", ("notifier_id", "name", "in_trusted_lane")),
        )
        self._dialect.copy(cur, AUDIT, "read_audit", staged.records)
        insert(
            cur,
            _insert_head("read_audit_chains", CHAIN_COLUMNS),
            [chain_row(chain) for chain in staged.chains.values()],
            _upsert_tail("aggregate_id", CHAIN_COLUMNS),
        )

    def _delete_in(self, cur: Cursor, table: str, column: str, keys: Sequence[str]) -> None:
        statement = f"DELETE FROM {table} WHERE {column} IN ({{marks}})"
        for text, params in self._dialect.among(statement, keys):
            cur.execute(text, params)

    def select_in(
        self, cur: Cursor, statement: str, keys: Collection[UUID]
    ) -> list[tuple[Any, ...]]:
        """Rows of `statement` (written with `IN ({marks})`) for the keys."""
        rows: list[tuple[Any, ...]] = []
        for text, params in self._dialect.among(statement, [str(key) for key in keys]):
            cur.execute(text, params)
            rows.extend(cur.fetchall())
        return rows

    def reset(self) -> None:
        """Delete every row and set the position back to 0 (consumer offsets included)."""
        with self._writing() as cur:
            for table in TABLES:
                cur.execute(f"DELETE FROM {table}")
            cur.execute("DELETE FROM ntd_consumer_offsets")
            cur.execute(
                self._sql("UPDATE read_position SET last_seq = 0 WHERE name = ?"), (POSITION_NAME,)
            )

    def staging(self) -> SqlStaging:
        """Fresh tables for a rebuild, swapped in whole at its end (see sql_rebuild)."""
        from projections.sql_rebuild import SqlStaging

        return SqlStaging(self)

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


def case_row(case: CaseSummary) -> tuple[Any, ...]:
    """A case summary as its read_cases row."""
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
    """A stored case row back as a summary; the row was written by case_row, so no validation."""
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


def deadline_rows(case: CaseSummary) -> list[tuple[Any, ...]]:
    """A case's open deadlines as read_deadlines rows."""
    case_id, notifier_id = str(case.case_id), str(case.notifier_id)
    return [(case_id, kind.value, notifier_id, stamp(due)) for kind, due in case.deadlines.items()]


def breach_row(breach: Breach) -> tuple[Any, ...]:
    """A missed deadline as its read_breaches row."""
    return (
        breach.seq,
        str(breach.case_id),
        str(breach.notifier_id),
        breach.deadline.value,
        stamp(breach.due_at),
        stamp(breach.missed_at),
    )


def notifier_row(notifier: NotifierRecord) -> tuple[Any, ...]:
    """A notifier as its read_notifiers row."""
    return (str(notifier.notifier_id), notifier.name, int(notifier.in_trusted_lane))


def chain_row(chain: AuditChain) -> tuple[Any, ...]:
    """An audit chain as its read_audit_chains row."""
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
