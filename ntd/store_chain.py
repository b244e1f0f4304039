"""The event store's hash chain: every stored event's link to the one before it in the global
notification order, written in the same transaction as the event, and how a chain is walked.

A link is sha256(previous link + sha256(state) + UTF-8 of "position\\nid\\nversion\\nrecorded\\n
topic"), 32 zero bytes before the first event (docs/evidence.md gives the exact form). The links
live in a side table `<events table>_chain` (notification_id, recorded_at, hash), so the library's
own table keeps its shape. The PostgreSQL store computes links in its insert function
(ntd/event_writer.py); the SQLite store in ChainedSqliteRecorder below, under SQLite's write lock.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any, NamedTuple
from uuid import UUID

import psycopg2
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg2 import sql

from ntd.signing import Checkpoint

GENESIS = bytes(32)
"""The link before the first event of every store (and of a store chained by migration)."""
RECORDED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
"""The one form of `recorded_at`: UTC, six digits of microseconds, `Z`."""
PAGE = 5000
UNCHAINED = "the event has no link (a store written before the chain: `ntd audit chain --migrate`)"


def chain_table(events_table: str) -> str:
    """The side table of an events table's links."""
    return f"{events_table}_chain"


def checkpoint_table(events_table: str) -> str:
    """The table of an events table's signed checkpoints."""
    return f"{events_table}_checkpoints"


CHECKPOINT_COLUMNS = (
    "position bigint PRIMARY KEY, head text NOT NULL, at text NOT NULL,"
    " public_key text NOT NULL, signature text NOT NULL"
)


def recorded_now() -> str:
    """The store's clock now, as `recorded_at` holds it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def link(  # walk() inlines the same computation: change both together
    prev: bytes,
    position: int,
    originator_id: UUID | str,
    version: int,
    recorded_at: str,
    topic: str,
    state: bytes,
) -> bytes:
    """The link of one stored event, from the link before it; the id as a UUID or as its
    lower-case text with hyphens."""
    text = f"{position}\n{originator_id}\n{version}\n{recorded_at}\n{topic}".encode()
    return sha256(prev + sha256(state).digest() + text).digest()


class ChainedSqliteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, linking each save's events into the chain in the save's
    own transaction: the library's first insert takes SQLite's write lock, so no other writer
    can add a link between reading the head and writing ours."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {chain_table(self.events_table_name)} ("
            "notification_id INTEGER PRIMARY KEY, recorded_at TEXT NOT NULL, hash BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {checkpoint_table(self.events_table_name)}"
            f" ({CHECKPOINT_COLUMNS})",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if not ids:
            return ids
        table = chain_table(self.events_table_name)
        c.execute(f"SELECT hash FROM {table} ORDER BY notification_id DESC LIMIT 1")
        row = c.fetchone()
        if row is None:
            c.execute(f"SELECT 1 FROM {self.events_table_name} WHERE rowid < ? LIMIT 1", (ids[0],))
            if c.fetchone() is not None:
                return ids  # an unchained store: `ntd audit chain --migrate` chains it
        head = GENESIS if row is None else bytes(row[0])
        at, links = recorded_now(), []
        for position, event in zip(ids, stored_events, strict=True):
            aggregate = event.originator_id
            if not isinstance(aggregate, UUID):
                aggregate = UUID(str(aggregate))
            head = link(
                head, position, aggregate, event.originator_version, at, event.topic, event.state
            )
            links.append((position, at, head))
        c.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", links)
        return ids


# -- reading and walking a chain ----------------------------------------------------------------


class Row(NamedTuple):
    """One position of the store: its event (None if the event is gone) and its link (None if
    it has none)."""

    position: int
    originator_id: str | None
    version: int | None
    topic: str | None
    state: bytes | None
    recorded_at: str | None
    hash: bytes | None


@dataclass(frozen=True)
class Break:
    """The first broken spot of a store's chain."""

    position: int
    problem: str
    aggregate: str | None = None
    version: int | None = None
    topic: str | None = None

    def __str__(self) -> str:
        event = f" (aggregate {self.aggregate} version {self.version})" if self.aggregate else ""
        return f"position {self.position}{event}: {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    """What a walk of the store's chain found."""

    events: int
    position: int
    """The last position walked (0: none)."""
    head: bytes
    """The link at `position` as recomputed (GENESIS for an empty store)."""
    broken: Break | None = None
    checked_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.broken is None


def walk(
    rows: Iterator[Row],
    start: tuple[int, bytes] = (0, GENESIS),
    heads: dict[int, bytes] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Recompute every link from `start` (a position and its trusted link) on; stop at the first
    event without a link, link without an event, or link that differs; `heads` records the
    recomputed link at the positions it names (checkpoints)."""
    position, head = start
    events = size = 0
    heads = heads if heads is not None else {}
    checked_at = ""  # the events of one save share their recorded time: check it once
    for row in rows:
        events += 1
        number, aggregate, version, topic, state, at, stored = row
        if state is None or aggregate is None or version is None:
            return _report(events, position, head, size, row, "its event was deleted")
        if stored is None or at is None:
            return _report(events, position, head, size, row, UNCHAINED)
        if at != checked_at:
            if not RECORDED.fullmatch(at):
                return _report(events, position, head, size, row, "its recorded time was changed")
            checked_at = at
        size += len(state)
        text = f"{number}\n{aggregate}\n{version}\n{at}\n{topic or ''}".encode()
        computed = sha256(head + sha256(state).digest() + text).digest()
        if computed != stored:
            problem = (
                "the event or the one before it was changed, deleted or inserted "
                "(its link does not follow from the chain)"
            )
            return _report(events, position, head, size, row, problem)
        position, head = number, computed
        if position in heads:
            heads[position] = computed
        if progress is not None and events % PAGE == 0:
            progress(position)
    return ChainReport(events, position, head, None, size)


def _report(
    events: int, position: int, head: bytes, size: int, row: Row, problem: str
) -> ChainReport:
    aggregate = row.originator_id
    broken = Break(row.position, problem, aggregate, row.version, row.topic)
    return ChainReport(events - 1, position, head, broken, size)


# -- the two stores -------------------------------------------------------------------------------


class SqliteChain:
    """The chain of the embedded SQLite event store."""

    def __init__(self, path: str, table: str) -> None:
        self.connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.table, self.links = table, chain_table(table)
        self.marks = checkpoint_table(table)
        self.connection.execute(
            f"CREATE TABLE IF NOT EXISTS {self.links} (notification_id INTEGER PRIMARY KEY,"
            " recorded_at TEXT NOT NULL, hash BLOB NOT NULL)"
        )
        self.connection.execute(f"CREATE TABLE IF NOT EXISTS {self.marks} ({CHECKPOINT_COLUMNS})")

    def checkpoints(self, since: int = -1) -> list[Checkpoint]:
        """The stored checkpoints from position `since` on, oldest first."""
        rows = self.connection.execute(
            f"SELECT * FROM {self.marks} WHERE position >= ? ORDER BY position", (since,)
        ).fetchall()
        return [Checkpoint(*r) for r in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint of the highest position."""
        row = self.connection.execute(
            f"SELECT * FROM {self.marks} ORDER BY position DESC LIMIT 1"
        ).fetchone()
        return None if row is None else Checkpoint(*row)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a checkpoint (one a position)."""
        self.connection.execute(
            f"INSERT OR IGNORE INTO {self.marks} VALUES (?, ?, ?, ?, ?)", astuple(checkpoint)
        )

    def rows(self, after: int = 0, stop: int | None = None) -> Iterator[Row]:
        """Every position after `after` (up to `stop`): events with their links, and links
        whose event is gone, in position order."""
        if stop is None:
            stop = self.counts()[2]
        statement = (
            f"SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state,"
            f" c.recorded_at, c.hash FROM {self.table} e LEFT JOIN {self.links} c"
            " ON c.notification_id = e.rowid WHERE e.rowid > ? AND e.rowid <= ?"
            f" UNION ALL SELECT c.notification_id, NULL, NULL, NULL, NULL, c.recorded_at, c.hash"
            f" FROM {self.links} c WHERE c.notification_id > ? AND c.notification_id <= ?"
            f" AND NOT EXISTS (SELECT 1 FROM {self.table} e WHERE e.rowid = c.notification_id)"
            " ORDER BY 1"
        )
        # A window of positions at a time: positions are rowids, dense but for deletions, and
        # a window bounds both halves of the query (a LIMIT would scan every later link).
        while after < stop:
            end = min(after + PAGE, stop)
            yield from (
                Row(r[0], _hyphenated(r[1]), *r[2:])
                for r in self.connection.execute(statement, (after, end, after, end))
            )
            after = end

    def head(self) -> tuple[int, bytes] | None:
        """The last link: its position and hash."""
        row = self.connection.execute(
            f"SELECT notification_id, hash FROM {self.links} ORDER BY notification_id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def link_at(self, position: int) -> bytes | None:
        """The stored link at a position."""
        row = self.connection.execute(
            f"SELECT hash FROM {self.links} WHERE notification_id = ?", (position,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def counts(self) -> tuple[int, int, int]:
        """Events, links and the last position of either."""
        events, last_event = self.connection.execute(
            f"SELECT count(*), coalesce(max(rowid), 0) FROM {self.table}"
        ).fetchone()
        links, last_link = self.connection.execute(
            f"SELECT count(*), coalesce(max(notification_id), 0) FROM {self.links}"
        ).fetchone()
        return events, links, max(last_event, last_link)

    def migrate(self, progress: Callable[[int], None] | None = None) -> int:
        """Chain every event of an unchained store from GENESIS, under the write lock; the
        events are stamped with this moment. Returns the events chained."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            if self.connection.execute(f"SELECT 1 FROM {self.links} LIMIT 1").fetchone():
                raise AlreadyChained("the event store is chained already")
            links = list(_migrated(self.rows(), progress))
            self.connection.executemany(f"INSERT INTO {self.links} VALUES (?, ?, ?)", links)
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        return len(links)

    def close(self) -> None:
        self.connection.close()


def _hyphenated(stored: str | None) -> str | None:
    """The library's SQLite id (32 hex digits) as UUID text; anything else as it is, so that
    an id changed outside ntd breaks its link."""
    if stored is None or len(stored) != 32:
        return stored
    h = stored
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class PostgresChain:
    """The chain of the PostgreSQL event store."""

    def __init__(self, dsn: str, schema: str, table: str) -> None:
        self.connection: Any = psycopg2.connect(dsn)
        self.table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        self.links = sql.SQL("{}.{}").format(
            sql.Identifier(schema), sql.Identifier(chain_table(table))
        )
        self.marks = sql.SQL("{}.{}").format(
            sql.Identifier(schema), sql.Identifier(checkpoint_table(table))
        )

    def checkpoints(self, since: int = -1) -> list[Checkpoint]:
        """The stored checkpoints from position `since` on, oldest first."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT * FROM {} WHERE position >= %s ORDER BY position").format(
                    self.marks
                ),
                (since,),
            )
            rows = cursor.fetchall()
        self.connection.commit()
        return [Checkpoint(*r) for r in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint of the highest position."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT * FROM {} ORDER BY position DESC LIMIT 1").format(self.marks)
            )
            row = cursor.fetchone()
        self.connection.commit()
        return None if row is None else Checkpoint(*row)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a checkpoint (one a position)."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(
                    self.marks
                ),
                astuple(checkpoint),
            )
        self.connection.commit()

    def rows(self, after: int = 0, stop: int | None = None) -> Iterator[Row]:
        """Every position after `after` (up to `stop`), as SqliteChain.rows."""
        last = 2**62 if stop is None else stop
        statement = sql.SQL(
            "SELECT coalesce(e.notification_id, c.notification_id) AS position,"
            " e.originator_id::text, e.originator_version, e.topic, e.state,"
            " c.recorded_at, c.hash FROM"
            " (SELECT * FROM {events} WHERE notification_id > %(after)s"
            "  AND notification_id <= %(last)s ORDER BY notification_id LIMIT %(page)s) e"
            " FULL JOIN (SELECT * FROM {links} WHERE notification_id > %(after)s"
            "  AND notification_id <= %(last)s ORDER BY notification_id LIMIT %(page)s) c"
            " ON c.notification_id = e.notification_id ORDER BY 1"
        ).format(events=self.table, links=self.links)
        while True:
            with self.connection.cursor() as cursor:
                cursor.execute(statement, {"after": after, "last": last, "page": PAGE})
                page = cursor.fetchall()
            self.connection.commit()
            if not page:
                return
            # Each side is cut at PAGE rows: past the end of a full side, a position's
            # partner may yet come on the next page, so only up to there is certain.
            full = [
                side[-1]
                for side in (
                    [r[0] for r in page if r[4] is not None],
                    [r[0] for r in page if r[6] is not None],
                )
                if len(side) >= PAGE
            ]
            end = min(full) if full else page[-1][0]
            for r in page:
                if r[0] > end:
                    break
                state, link_hash = (None if v is None else bytes(v) for v in (r[4], r[6]))
                yield Row(r[0], r[1], r[2], r[3], state, r[5], link_hash)
            if not full:
                return
            after = end

    def head(self) -> tuple[int, bytes] | None:
        with self.connection.cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    "SELECT notification_id, hash FROM {} ORDER BY notification_id DESC LIMIT 1"
                ).format(self.links)
            )
            row = cursor.fetchone()
        self.connection.commit()
        return None if row is None else (row[0], bytes(row[1]))

    def link_at(self, position: int) -> bytes | None:
        with self.connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT hash FROM {} WHERE notification_id = %s").format(self.links),
                (position,),
            )
            row = cursor.fetchone()
        self.connection.commit()
        return None if row is None else bytes(row[0])

    def counts(self) -> tuple[int, int, int]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    "SELECT (SELECT count(*) FROM {e}), (SELECT coalesce(max(notification_id), 0)"
                    " FROM {e}), (SELECT count(*) FROM {c}),"
                    " (SELECT coalesce(max(notification_id), 0) FROM {c})"
                ).format(e=self.table, c=self.links)
            )
            events, last_event, links, last_link = cursor.fetchone()
        self.connection.commit()
        return events, links, max(last_event, last_link)

    def migrate(self, progress: Callable[[int], None] | None = None) -> int:
        """Chain every event of an unchained store, as SqliteChain.migrate, holding the events
        table's EXCLUSIVE lock (the one the writers take) so no event is stored meanwhile."""
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self.table))
                cursor.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(self.links))
                if cursor.fetchone():
                    raise AlreadyChained("the event store is chained already")
                links = list(_migrated(self._rows_in_transaction(cursor), progress))
                cursor.executemany(
                    sql.SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(self.links), links
                )
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        return len(links)

    def _rows_in_transaction(self, cursor: Any) -> Iterator[Row]:
        cursor.execute(
            sql.SQL(
                "SELECT notification_id, originator_id::text, originator_version, topic, state"
                " FROM {} ORDER BY notification_id"
            ).format(self.table)
        )
        for r in cursor.fetchall():
            yield Row(r[0], r[1], r[2], r[3], bytes(r[4]), None, None)

    def close(self) -> None:
        self.connection.close()


def _migrated(
    rows: Iterator[Row], progress: Callable[[int], None] | None
) -> Iterator[tuple[int, str, bytes]]:
    head, at = GENESIS, recorded_now()
    for count, row in enumerate(rows, 1):
        assert row.originator_id is not None and row.version is not None
        assert row.state is not None
        head = link(
            head,
            row.position,
            UUID(row.originator_id),
            row.version,
            at,
            row.topic or "",
            row.state,
        )
        yield row.position, at, head
        if progress is not None and count % PAGE == 0:
            progress(row.position)


class AlreadyChained(RuntimeError):
    """A migration asked of a store that has links already."""


StoreChain = SqliteChain | PostgresChain
