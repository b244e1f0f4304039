"""The queries, each run by the store inside one read snapshot: a notifier's dashboard figures
(aggregated in SQL), the notifiers, a case, the audit trail and its verification, due deadlines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.case import Deadline, State
from domain.rules import Rules
from projections.audit import COLUMNS as AUDIT_COLUMNS
from projections.audit import AuditRecord, Head, conditions, verify
from projections.dashboard import (
    APPEAL_REJECTED,
    TOP_SELLERS,
    Figures,
    Tally,
    hours_between,
    window_start,
)
from projections.encoding import stamp
from projections.models import (
    AuditQuery,
    AuditRow,
    AuditVerification,
    CaseSummary,
    DueDeadline,
    NotifierSummary,
    SellerFigure,
)
from projections.sql.dialect import Cursor, Dialect
from projections.sql.writes import Loader


def figures(
    dialect: Dialect, cur: Cursor, notifier_id: UUID, now: datetime, rules: Rules
) -> Figures:
    """A notifier's figures, aggregated in SQL from the case summaries."""
    nid = str(notifier_id)
    start = window_start(now, rules)
    cur.execute(
        dialect.sql("SELECT name, in_trusted_lane FROM read_notifiers WHERE notifier_id = ?"),
        (nid,),
    )
    notifier = cur.fetchone()
    return Figures(
        notifier_id=notifier_id,
        name=notifier[0] if notifier else None,
        in_trusted_lane=bool(notifier[1]) if notifier else False,
        as_of=now,
        window_start=start,
        total=_tally(dialect, cur, nid),
        window=_tally(dialect, cur, nid, (stamp(start), stamp(now))),
        cases_by_state={
            State(state): count
            for state, count in _rows(
                dialect,
                cur,
                "SELECT state, COUNT(*) FROM read_cases WHERE notifier_id = ? GROUP BY state",
                nid,
            )
        },
        filed_per_day=dict(
            _rows(
                dialect,
                cur,
                "SELECT substr(filed_at, 1, 10), COUNT(*) FROM read_cases "
                "WHERE notifier_id = ? GROUP BY substr(filed_at, 1, 10)",
                nid,
            )
        ),
        hours_to_takedown=[
            hours_between(datetime.fromisoformat(filed), datetime.fromisoformat(taken))
            for filed, taken in _rows(
                dialect,
                cur,
                "SELECT filed_at, taken_down_at FROM read_cases "
                "WHERE notifier_id = ? AND taken_down_at IS NOT NULL",
                nid,
            )
        ],
        open_deadlines=_per_deadline(dialect, cur, "read_deadlines", nid),
        breaches=_per_deadline(dialect, cur, "read_breaches", nid),
        top_sellers=_top_sellers(dialect, cur, nid),
    )


def _rows(dialect: Dialect, cur: Cursor, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Every row of a statement (written with `?`)."""
    cur.execute(dialect.sql(statement), params)
    return list(cur.fetchall())


def _tally(dialect: Dialect, cur: Cursor, nid: str, window: tuple[str, str] | None = None) -> Tally:
    within = " AND filed_at >= ? AND filed_at <= ?" if window else ""
    cur.execute(
        dialect.sql(
            "SELECT COUNT(*),"
            " SUM(CASE WHEN taken_down_at IS NOT NULL OR declined_at IS NOT NULL"
            " THEN 1 ELSE 0 END),"
            " COUNT(taken_down_at),"
            " SUM(CASE WHEN taken_down_at IS NOT NULL AND reversed = 1 THEN 1 ELSE 0 END),"
            " COUNT(declined_at),"
            " SUM(CASE WHEN taken_down_at IS NOT NULL AND counter_noticed = 1"
            " THEN 1 ELSE 0 END),"
            " SUM(withdrawn),"
            " SUM(CASE WHEN declined_at IS NOT NULL OR (taken_down_at IS NOT NULL AND"
            " (reversed = 1"
            " OR case_id IN (SELECT case_id FROM read_breaches WHERE notifier_id = ? AND kind = ?)"
            " OR case_id IN (SELECT aggregate_id FROM read_audit"
            " WHERE notifier_id = ? AND event_type = ?))) THEN 1 ELSE 0 END)"
            f" FROM read_cases WHERE notifier_id = ?{within}"
        ),
        (nid, Deadline.COUNTER_NOTICE.value, nid, APPEAL_REJECTED, nid, *(window or ())),
    )
    return Tally(*(int(value or 0) for value in cur.fetchone()))


def _per_deadline(dialect: Dialect, cur: Cursor, table: str, nid: str) -> dict[Deadline, int]:
    statement = f"SELECT kind, COUNT(*) FROM {table} WHERE notifier_id = ? GROUP BY kind"
    return {Deadline(kind): count for kind, count in _rows(dialect, cur, statement, nid)}


def _top_sellers(dialect: Dialect, cur: Cursor, nid: str) -> list[SellerFigure]:
    """The five best-placed sellers and any tied with the fifth (ties are broken in Python)."""
    kept = (
        " FROM read_cases WHERE notifier_id = ? AND taken_down_at IS NOT NULL AND reversed = 0"
        " GROUP BY seller_id, marketplace"
    )
    counts = _rows(
        dialect, cur, f"SELECT COUNT(*){kept} ORDER BY COUNT(*) DESC LIMIT {TOP_SELLERS}", nid
    )
    if not counts:
        return []
    found = _rows(
        dialect,
        cur,
        f"SELECT seller_id, marketplace, COUNT(*){kept} HAVING COUNT(*) >= ?",
        nid,
        counts[-1][0],
    )
    return [SellerFigure(seller_id=s, marketplace=m, takedowns=n) for s, m, n in found]


def notifiers(dialect: Dialect, cur: Cursor) -> list[NotifierSummary]:
    """Every notifier with its lane and case count, most cases first."""
    found = _rows(
        dialect,
        cur,
        "SELECT n.notifier_id, n.name, n.in_trusted_lane, COUNT(c.case_id)"
        " FROM read_notifiers n LEFT JOIN read_cases c ON c.notifier_id = n.notifier_id"
        " GROUP BY n.notifier_id, n.name, n.in_trusted_lane",
    )
    summaries = [
        NotifierSummary(notifier_id=i, name=name, in_trusted_lane=bool(lane), cases=count)
        for i, name, lane, count in found
    ]
    return sorted(summaries, key=lambda s: (-s.cases, s.name, str(s.notifier_id)))


def case(dialect: Dialect, cur: Cursor, case_id: UUID) -> CaseSummary | None:
    """One case's summary, or None."""
    return Loader(dialect, cur).load_cases([case_id]).get(case_id)


def audit_select(query: AuditQuery) -> tuple[str, list[Any]]:
    """The SELECT of the audit rows matching the query, in seq order, and its parameters."""
    wanted = conditions(query)
    where = " AND ".join(f"{column} {op} ?" for column, op, _ in wanted)
    statement = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM read_audit"
    statement += f" WHERE {where}" if where else ""
    return statement + " ORDER BY seq", [v for _, _, v in wanted]


def audit_rows(
    dialect: Dialect, conn: Any, statement: str, params: list[Any]
) -> Iterator[AuditRow]:
    """The rows of an `audit_select`, streamed."""
    for row in dialect.stream(conn, dialect.sql(statement), params):
        yield AuditRecord(*row).to_row()


def verify_audit(dialect: Dialect, cur: Cursor, conn: Any) -> AuditVerification:
    """Walk every audit chain against the recorded heads."""
    heads = {
        aggregate: Head(version, seq, digest)
        for aggregate, version, seq, digest in _rows(
            dialect,
            cur,
            "SELECT aggregate_id, head_version, head_seq, head_hash FROM read_audit_chains",
        )
    }
    statement = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM read_audit ORDER BY seq"
    records = (AuditRecord(*row) for row in dialect.stream(conn, statement, ()))
    return verify(records, heads)


def due_deadlines(dialect: Dialect, cur: Cursor, now: datetime) -> list[DueDeadline]:
    """Open deadlines due at or before `now`, earliest first."""
    found = _rows(
        dialect,
        cur,
        "SELECT case_id, kind, due_at FROM read_deadlines WHERE due_at <= ?"
        " ORDER BY due_at, case_id, kind",
        stamp(now),
    )
    return [DueDeadline(case_id=c, deadline=kind, due_at=due) for c, kind, due in found]
