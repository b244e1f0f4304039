"""The read store's tables: the views a rebuild replaces, the positions and the swap gate.

Ids are stored as text and times as UTC ISO 8601 text with microseconds (see audit.stamp), so
text order is time order in both databases and audit rows hash the same on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        """CREATE TABLE for this table (under another name, e.g. a rebuild's fresh table)."""
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
