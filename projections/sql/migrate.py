"""Bringing a store created by an older ntd up to the current tables, at start-up: the columns it
lacks (schema.ADDED_COLUMNS), what they can be filled in with from the rows already there, and
one step per case for the figures as of a past moment. New tables need nothing: SCHEMA creates
them. `ntd projections rebuild` makes every row exact."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from domain.case import Deadline
from projections.encoding import stamp
from projections.sql.dialect import Cursor, Dialect, PostgresDialect, add_missing_columns
from projections.sql.rows import deadlines_text, kinds_text
from projections.sql.schema import ADDED_COLUMNS, BY_NAME


def migrate(dialect: Dialect, cur: Cursor) -> list[tuple[str, str]]:
    """Add the columns the store lacks and fill in what can be; returns (table, column) of each
    column added."""
    added = add_missing_columns(cur, isinstance(dialect, PostgresDialect), ADDED_COLUMNS)
    if ("read_cases", "deadlines") in added:
        _fill_deadlines(dialect, cur)
    _seed_steps(dialect, cur)
    return added


def _open_deadlines(cur: Cursor) -> dict[str, dict[Deadline, datetime]]:
    cur.execute("SELECT case_id, kind, due_at FROM read_deadlines")
    found: dict[str, dict[Deadline, datetime]] = defaultdict(dict)
    for case_id, kind, due in cur.fetchall():
        found[case_id][Deadline(kind)] = datetime.fromisoformat(due)
    return found


def _fill_deadlines(dialect: Dialect, cur: Cursor) -> None:
    """Keep each case's open deadlines on its row, as the handlers now write them."""
    statement = dialect.sql(
        "UPDATE read_cases SET deadlines = ?, next_due_at = ? WHERE case_id = ?"
    )
    for case_id, deadlines in _open_deadlines(cur).items():
        cur.execute(statement, (deadlines_text(deadlines), stamp(min(deadlines.values())), case_id))


def _seed_steps(dialect: Dialect, cur: Cursor) -> None:
    """Give each case that has no step (a store from before steps were kept) one: its present
    state and open deadlines, from its filing on."""
    cur.execute("SELECT 1 FROM read_case_steps LIMIT 1")
    if cur.fetchone() is not None:
        return
    cur.execute("SELECT case_id, notifier_id, filed_at, state FROM read_cases")
    cases = cur.fetchall()
    if not cases:
        return
    deadlines = _open_deadlines(cur)
    rows = [
        (0, case_id, notifier_id, filed, state, kinds_text(deadlines.get(case_id, {})))
        for case_id, notifier_id, filed, state in cases
    ]
    dialect.copy(cur, BY_NAME["read_case_steps"], "read_case_steps", rows)
