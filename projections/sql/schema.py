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
    "counter_noticed_at",
    "reversed_at",
    "withdrawn_at",
    "identification_requested_at",
    "identification_answered_at",
    "identification_verdict",
    "next_due_at",
    "deadlines",
)
"""read_cases' columns; those after `withdrawn` were added later (ADDED_COLUMNS)."""
NOTIFIER_COLUMNS = ("notifier_id", "name", "in_trusted_lane", "account_manager")
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
        withdrawn SMALLINT NOT NULL,
        counter_noticed_at VARCHAR(32),
        reversed_at VARCHAR(32),
        withdrawn_at VARCHAR(32),
        identification_requested_at VARCHAR(32),
        identification_answered_at VARCHAR(32),
        identification_verdict VARCHAR(20),
        next_due_at VARCHAR(32),
        deadlines TEXT NOT NULL DEFAULT '{}'""",
        "case_id",
        (
            ("notifier", "notifier_id, filed_at"),
            ("filed", "filed_at"),
            ("due", "next_due_at"),
            ("seller", "seller_id, marketplace"),
        ),
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
        in_trusted_lane SMALLINT NOT NULL,
        account_manager TEXT""",
        "notifier_id",
    ),
    Table(
        "read_case_steps",
        """seq BIGINT NOT NULL,
        case_id VARCHAR(36) NOT NULL,
        notifier_id VARCHAR(36) NOT NULL,
        at VARCHAR(32) NOT NULL,
        state VARCHAR(40) NOT NULL,
        deadlines TEXT NOT NULL""",
        "case_id, seq",
        (("notifier", "notifier_id, at"),),
    ),
    Table(
        "read_identifications",
        """seq BIGINT NOT NULL,
        case_id VARCHAR(36) NOT NULL,
        notifier_id VARCHAR(36) NOT NULL,
        step VARCHAR(20) NOT NULL,
        at VARCHAR(32) NOT NULL,
        asked_at VARCHAR(32) NOT NULL,
        verdict VARCHAR(20)""",
        "seq",
        (("notifier", "notifier_id, at"),),
    ),
    Table(
        "read_messages",
        """seq BIGINT NOT NULL,
        case_id VARCHAR(36) NOT NULL,
        version INTEGER NOT NULL,
        notifier_id VARCHAR(36) NOT NULL,
        author TEXT NOT NULL,
        role VARCHAR(40),
        posted_at VARCHAR(32) NOT NULL""",
        "seq",
        (("case", "case_id, version"), ("notifier", "notifier_id")),
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
BY_NAME = {table.name: table for table in VIEW_TABLES}
AUDIT, BREACHES = BY_NAME["read_audit"], BY_NAME["read_breaches"]

ADDED_COLUMNS = (
    ("read_cases", "counter_noticed_at", "VARCHAR(32)"),
    ("read_cases", "reversed_at", "VARCHAR(32)"),
    ("read_cases", "withdrawn_at", "VARCHAR(32)"),
    ("read_cases", "identification_requested_at", "VARCHAR(32)"),
    ("read_cases", "identification_answered_at", "VARCHAR(32)"),
    ("read_cases", "identification_verdict", "VARCHAR(20)"),
    ("read_cases", "next_due_at", "VARCHAR(32)"),
    ("read_cases", "deadlines", "TEXT NOT NULL DEFAULT '{}'"),
    ("read_notifiers", "account_manager", "TEXT"),
)
"""Columns a store created before them lacks, added at start-up (sql.migrate), in the order the
table declares them. The open deadlines (`deadlines`, `next_due_at`) are filled in from
read_deadlines there and then; the times of facts are not known for rows written before, which
keep their flags without a time (projections.dashboard counts such a fact at any time), and each
case gets one step, its present state from its filing on. `ntd projections rebuild` makes every
row exact."""

MESSAGE_READS = """CREATE TABLE IF NOT EXISTS message_reads (
        principal VARCHAR(210) NOT NULL,
        case_id VARCHAR(36) NOT NULL,
        last_seq INTEGER NOT NULL,
        PRIMARY KEY (principal, case_id))"""
"""Read marks: who read a case's conversation up to which of its versions (`last_seq`). Marking
read is not an event, so the marks are not a view a rebuild replaces: they outlive it."""

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
    MESSAGE_READS,
    *(table.create() for table in VIEW_TABLES),
)
"""Positions (log watermark and Kafka offsets), the swap gate, the read marks, then the views;
their indexes (INDEXES) come after the columns a store lacked were added."""
INDEXES = tuple(statement for table in VIEW_TABLES for statement in table.index_statements())
