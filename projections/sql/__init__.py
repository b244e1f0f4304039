"""The SQL read store (SQLite or PostgreSQL over DB-API), by responsibility:

- schema: the tables (views, positions, the swap gate, read marks) and their DDL;
- migrate: bringing a store of an older ntd up to the current tables at start-up;
- rows: each view's row format;
- dialect: what differs between SQLite and PostgreSQL, COPY's text format, `transaction`;
- offsets: the log watermark and the Kafka consumers' offsets;
- writes: applying a batch (what it reads, the rows it writes) in its transaction;
- queries: dashboard, case lists, work queue, needs-your-action, notifiers, case, audit trail
  and its verification, due deadlines;
- store: SqlReadStore composing them, open_sqlite and open_postgres;
- fresh_tables: a rebuild's fresh tables and the swap that puts them in place.
"""

from projections.sql.dialect import (
    ADVISORY_CONSUMER,
    CHUNK,
    STREAM_ROWS,
    Cursor,
    Dialect,
    PostgresDialect,
    transaction,
)
from projections.sql.fresh_tables import RebuildBusy, SqlFreshTables
from projections.sql.offsets import POSITION_NAME
from projections.sql.rows import breach_row, case_row, chain_row, deadline_rows, notifier_row
from projections.sql.schema import (
    AUDIT,
    BREACHES,
    CASE_COLUMNS,
    CHAIN_COLUMNS,
    SCHEMA,
    TABLES,
    VIEW_TABLES,
    Table,
)
from projections.sql.store import SqlReadStore, open_postgres, open_sqlite

__all__ = [
    "ADVISORY_CONSUMER",
    "AUDIT",
    "BREACHES",
    "CASE_COLUMNS",
    "CHAIN_COLUMNS",
    "CHUNK",
    "POSITION_NAME",
    "SCHEMA",
    "STREAM_ROWS",
    "TABLES",
    "VIEW_TABLES",
    "Cursor",
    "Dialect",
    "PostgresDialect",
    "RebuildBusy",
    "SqlFreshTables",
    "SqlReadStore",
    "Table",
    "breach_row",
    "case_row",
    "chain_row",
    "deadline_rows",
    "notifier_row",
    "open_postgres",
    "open_sqlite",
    "transaction",
]
