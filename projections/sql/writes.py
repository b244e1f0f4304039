"""A batch's reads and writes inside its transaction: the rows it needs (Loader) and the rows
it changed (write); the store projects the events between them and moves the positions."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any
from uuid import UUID

from projections.audit import AuditChain
from projections.models import CaseSummary
from projections.ports import NotifierRecord
from projections.sql.dialect import Cursor, Dialect
from projections.sql.rows import (
    breach_row,
    case_from_row,
    case_row,
    chain_row,
    deadline_rows,
    identification_row,
    message_row,
    notifier_row,
    step_row,
)
from projections.sql.schema import (
    AUDIT,
    BY_NAME,
    CASE_COLUMNS,
    CHAIN_COLUMNS,
    NOTIFIER_COLUMNS,
)
from projections.staging import Batch


def appended_rows(staged: Batch) -> dict[str, Sequence[Sequence[Any]]]:
    """A batch's append-only rows by table, but the audit trail's (its records are rows)."""
    return {
        "read_breaches": [breach_row(b) for b in staged.breaches],
        "read_case_steps": [step_row(s) for s in staged.steps],
        "read_identifications": [identification_row(i) for i in staged.identifications],
        "read_messages": [message_row(m) for m in staged.messages],
    }


def write(dialect: Dialect, cur: Cursor, staged: Batch) -> None:
    """Write a batch's changed rows: upsert cases, notifiers and chains, rewrite the deadlines
    of the cases whose deadlines changed, append breaches, steps, identifications, messages
    and audit rows."""
    insert = dialect.insert_many
    insert(
        cur,
        _insert_head("read_cases", CASE_COLUMNS),
        [case_row(case) for case in staged.cases.values()],
        _upsert_tail("case_id", CASE_COLUMNS),
    )
    rewritten = staged.deadlines_changed()
    delete_in(dialect, cur, "read_deadlines", "case_id", [str(c.case_id) for c in rewritten])
    insert(
        cur,
        "INSERT INTO read_deadlines (case_id, kind, notifier_id, due_at)",
        [row for case in rewritten for row in deadline_rows(case)],
    )
    for table, rows in appended_rows(staged).items():
        dialect.copy(cur, BY_NAME[table], table, rows)
    insert(
        cur,
        _insert_head("read_notifiers", NOTIFIER_COLUMNS),
        [notifier_row(n) for n in staged.notifiers.values()],
        _upsert_tail("notifier_id", NOTIFIER_COLUMNS),
    )
    dialect.copy(cur, AUDIT, "read_audit", staged.records)
    insert(
        cur,
        _insert_head("read_audit_chains", CHAIN_COLUMNS),
        [chain_row(chain) for chain in staged.chains.values()],
        _upsert_tail("aggregate_id", CHAIN_COLUMNS),
    )


def delete_in(dialect: Dialect, cur: Cursor, table: str, column: str, keys: Sequence[str]) -> None:
    """Delete the table's rows whose `column` is one of the keys."""
    statement = f"DELETE FROM {table} WHERE {column} IN ({{marks}})"
    for text, params in dialect.among(statement, keys):
        cur.execute(text, params)


def select_in(
    dialect: Dialect, cur: Cursor, statement: str, keys: Collection[UUID]
) -> list[tuple[Any, ...]]:
    """Rows of `statement` (written with `IN ({marks})`) for the keys."""
    rows: list[tuple[Any, ...]] = []
    for text, params in dialect.among(statement, [str(key) for key in keys]):
        cur.execute(text, params)
        rows.extend(cur.fetchall())
    return rows


class Loader:
    """What a batch reads, fetched with the batch's own cursor inside its transaction."""

    def __init__(self, dialect: Dialect, cur: Cursor) -> None:
        self._dialect = dialect
        self._cur = cur

    def load_cases(self, case_ids: Collection[UUID]) -> dict[UUID, CaseSummary]:
        """The stored cases among these ids, with their open deadlines (kept on the row)."""
        rows = select_in(
            self._dialect,
            self._cur,
            f"SELECT {', '.join(CASE_COLUMNS)} FROM read_cases WHERE case_id IN ({{marks}})",
            case_ids,
        )
        cases = (case_from_row(row) for row in rows)
        return {case.case_id: case for case in cases}

    def load_notifiers(self, notifier_ids: Collection[UUID]) -> dict[UUID, NotifierRecord]:
        """The stored notifiers among these ids."""
        rows = select_in(
            self._dialect,
            self._cur,
            f"SELECT {', '.join(NOTIFIER_COLUMNS)} FROM read_notifiers"
            " WHERE notifier_id IN ({marks})",
            notifier_ids,
        )
        return {
            UUID(i): NotifierRecord(UUID(i), name, bool(lane), manager)
            for i, name, lane, manager in rows
        }

    def load_chains(self, aggregate_ids: Collection[UUID]) -> dict[UUID, AuditChain]:
        """The stored audit chains among these ids."""
        rows = select_in(
            self._dialect,
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
