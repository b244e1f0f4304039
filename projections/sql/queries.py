"""The queries, each run by the store inside one read snapshot: a notifier's dashboard figures
(aggregated in SQL), case lists, the work queue and needs-your-action (one query each), the
notifiers, a case, the audit trail and its verification, due deadlines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.case import Authenticity, Deadline, Lane, State
from domain.lifecycle import RESOLVED
from domain.rules import Rules
from projections.audit import COLUMNS as AUDIT_COLUMNS
from projections.audit import AuditRecord, Head, conditions, verify
from projections.dashboard import (
    APPEAL_REJECTED,
    LANE_EVENTS,
    TOP_SELLERS,
    Figures,
    Tally,
    hours_between,
    window_start,
)
from projections.encoding import stamp
from projections.models import (
    ActionItem,
    AuditQuery,
    AuditRow,
    AuditVerification,
    CaseLine,
    CaseQuery,
    CaseSummary,
    DueDeadline,
    NotifierSummary,
    SellerFigure,
)
from projections.ports import IdentificationStep
from projections.queues import ACTIONS, DEFAULT_LIMIT, action_key, actions
from projections.queues import for_seller as redacted
from projections.sql.dialect import Cursor, Dialect
from projections.sql.rows import deadlines_from
from projections.sql.writes import Loader


def figures(
    dialect: Dialect,
    cur: Cursor,
    notifier_id: UUID,
    now: datetime,
    rules: Rules,
    viewer: str | None = None,
) -> Figures:
    """A notifier's figures as they stood at `now`, aggregated in SQL from the views."""
    nid, at = str(notifier_id), stamp(now)
    start = window_start(now, rules)
    cur.execute(dialect.sql("SELECT name FROM read_notifiers WHERE notifier_id = ?"), (nid,))
    notifier = cur.fetchone()
    states, open_deadlines = _latest_steps(dialect, cur, nid, at)
    requested, answers = _identifications(dialect, cur, nid, at)
    return Figures(
        notifier_id=notifier_id,
        name=notifier[0] if notifier else None,
        in_trusted_lane=_lane(dialect, cur, nid, at),
        as_of=now,
        window_start=start,
        total=_tally(dialect, cur, nid, at),
        window=_tally(dialect, cur, nid, at, stamp(start)),
        cases_by_state=states,
        filed_per_day=dict(
            _rows(
                dialect,
                cur,
                "SELECT substr(filed_at, 1, 10), COUNT(*) FROM read_cases "
                "WHERE notifier_id = ? AND filed_at <= ? GROUP BY substr(filed_at, 1, 10)",
                nid,
                at,
            )
        ),
        hours_to_takedown=[
            hours_between(datetime.fromisoformat(filed), datetime.fromisoformat(taken))
            for filed, taken in _rows(
                dialect,
                cur,
                "SELECT filed_at, taken_down_at FROM read_cases "
                "WHERE notifier_id = ? AND taken_down_at <= ?",
                nid,
                at,
            )
        ],
        open_deadlines=open_deadlines,
        breaches={
            Deadline(kind): count
            for kind, count in _rows(
                dialect,
                cur,
                "SELECT kind, COUNT(*) FROM read_breaches WHERE notifier_id = ? AND missed_at <= ?"
                " GROUP BY kind",
                nid,
                at,
            )
        },
        top_sellers=_top_sellers(dialect, cur, nid, at),
        identifications_requested=requested,
        identification_answers=answers,
        unread_messages=None if viewer is None else _unread_total(dialect, cur, nid, at, viewer),
    )


def _rows(dialect: Dialect, cur: Cursor, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Every row of a statement (written with `?`)."""
    cur.execute(dialect.sql(statement), params)
    return list(cur.fetchall())


REVERSED = "reversed = 1 AND (reversed_at IS NULL OR reversed_at <= ?)"
"""Reinstated by the time given (a row that kept no time: at any time)."""


def _tally(dialect: Dialect, cur: Cursor, nid: str, at: str, since: str | None = None) -> Tally:
    """The tally of the cases filed by `at` (and since `since`), as they stood at `at`."""
    within = " AND filed_at >= ?" if since else ""
    taken = "taken_down_at <= ?"
    cur.execute(
        dialect.sql(
            "SELECT COUNT(*),"
            f" SUM(CASE WHEN {taken} OR declined_at <= ? THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN {taken} THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN {taken} AND {REVERSED} THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN declined_at <= ? THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN {taken} AND counter_noticed = 1"
            " AND (counter_noticed_at IS NULL OR counter_noticed_at <= ?) THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN withdrawn = 1 AND (withdrawn_at IS NULL OR withdrawn_at <= ?)"
            " THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN declined_at <= ? OR ({taken} AND ({REVERSED}"
            " OR case_id IN (SELECT case_id FROM read_breaches"
            " WHERE notifier_id = ? AND kind = ? AND missed_at <= ?)"
            " OR case_id IN (SELECT aggregate_id FROM read_audit"
            " WHERE notifier_id = ? AND event_type = ? AND occurred_at <= ?)))"
            " THEN 1 ELSE 0 END),"
            " COUNT(DISTINCT notice_id)"
            f" FROM read_cases WHERE notifier_id = ? AND filed_at <= ?{within}"
        ),
        (
            *(at, at),  # decided
            at,  # taken down
            *(at, at),  # reversed
            at,  # declined
            *(at, at),  # counter-noticed
            at,  # withdrawn
            *(at, at, at),  # settled: declined, taken, reversed
            *(nid, Deadline.COUNTER_NOTICE.value, at),
            *(nid, APPEAL_REJECTED, at),
            nid,
            at,
            *((since,) if since else ()),
        ),
    )
    return Tally(*(int(value or 0) for value in cur.fetchone()))


def _latest_steps(
    dialect: Dialect, cur: Cursor, nid: str, at: str
) -> tuple[dict[State, int], dict[Deadline, int]]:
    """Cases by state and open deadlines by kind, each case as its last step by `at` left it."""
    kinds = list(Deadline)
    per_kind = ", SUM(CASE WHEN s.deadlines LIKE ? THEN 1 ELSE 0 END)" * len(kinds)
    found = _rows(
        dialect,
        cur,
        f"SELECT s.state, COUNT(*){per_kind} FROM read_case_steps s"
        " WHERE s.notifier_id = ? AND s.at <= ? AND s.seq = (SELECT MAX(t.seq)"
        " FROM read_case_steps t WHERE t.case_id = s.case_id AND t.at <= ?)"
        " GROUP BY s.state",
        *(f"%,{kind.value},%" for kind in kinds),
        nid,
        at,
        at,
    )
    states = {State(row[0]): int(row[1]) for row in found}
    open_deadlines = {
        kind: total
        for kind, total in zip(
            kinds,
            (sum(int(row[2 + i] or 0) for row in found) for i in range(len(kinds))),
            strict=True,
        )
        if total
    }
    return states, open_deadlines


def _lane(dialect: Dialect, cur: Cursor, nid: str, at: str) -> bool:
    """Whether the notifier was in the trusted lane at `at`: its last lane change by then."""
    kinds = list(LANE_EVENTS)
    found = _rows(
        dialect,
        cur,
        "SELECT event_type FROM read_audit WHERE aggregate_id = ? AND occurred_at <= ?"
        f" AND event_type IN ({', '.join('?' * len(kinds))}) ORDER BY seq DESC LIMIT 1",
        nid,
        at,
        *kinds,
    )
    return bool(found) and LANE_EVENTS[found[0][0]]


def _identifications(
    dialect: Dialect, cur: Cursor, nid: str, at: str
) -> tuple[int, list[tuple[Authenticity, float]]]:
    """Requests made by `at`, and each answer by then with its hours since its request."""
    requested = 0
    answers: list[tuple[Authenticity, float]] = []
    for step, asked, answered, verdict in _rows(
        dialect,
        cur,
        "SELECT step, asked_at, at, verdict FROM read_identifications"
        " WHERE notifier_id = ? AND at <= ?",
        nid,
        at,
    ):
        if step == IdentificationStep.REQUESTED.value:
            requested += 1
        elif verdict is not None:
            hours = hours_between(datetime.fromisoformat(asked), datetime.fromisoformat(answered))
            answers.append((Authenticity(verdict), hours))
    return requested, answers


def _unread_total(dialect: Dialect, cur: Cursor, nid: str, at: str, viewer: str) -> int:
    """Messages on the notifier's cases, posted by `at`, that `viewer` has not read."""
    cur.execute(
        dialect.sql(
            "SELECT COUNT(*) FROM read_messages m WHERE m.notifier_id = ? AND m.posted_at <= ?"
            f" AND {_UNREAD_WHERE}"
        ),
        (nid, at, *_unread_params(viewer)),
    )
    return int(cur.fetchone()[0])


_UNREAD_WHERE = (
    "m.author <> ?"
    " AND m.version > COALESCE((SELECT r.last_seq FROM message_reads r"
    " WHERE r.principal = ? AND r.case_id = m.case_id), 0)"
    " AND m.version > COALESCE((SELECT MAX(o.version) FROM read_messages o"
    " WHERE o.case_id = m.case_id AND o.author = ?), 0)"
)
"""A message `m` unread by a principal (projections.queues.unread); three parameters."""


def _unread_params(viewer: str) -> tuple[str, str, str]:
    return viewer, viewer, viewer


def _top_sellers(dialect: Dialect, cur: Cursor, nid: str, at: str) -> list[SellerFigure]:
    """The five best-placed sellers and any tied with the fifth (ties are broken in Python)."""
    kept = (
        " FROM read_cases WHERE notifier_id = ? AND taken_down_at <= ?"
        f" AND NOT ({REVERSED}) GROUP BY seller_id, marketplace"
    )
    counts = _rows(
        dialect,
        cur,
        f"SELECT COUNT(*){kept} ORDER BY COUNT(*) DESC LIMIT {TOP_SELLERS}",
        nid,
        at,
        at,
    )
    if not counts:
        return []
    found = _rows(
        dialect,
        cur,
        f"SELECT seller_id, marketplace, COUNT(*){kept} HAVING COUNT(*) >= ?",
        nid,
        at,
        at,
        counts[-1][0],
    )
    return [SellerFigure(seller_id=s, marketplace=m, takedowns=n) for s, m, n in found]


# -- lists and queues --------------------------------------------------------------------------

_COLUMNS = (
    "case_id",
    "notice_id",
    "notifier_id",
    "name",
    "account_manager",
    "marketplace",
    "listing_id",
    "seller_id",
    "state",
    "lane",
    "filed_at",
    "deadlines",
    "identification_verdict",
)
"""A line's columns, as the selection of matching cases names them."""
_CASE_UNREAD = (
    "(SELECT COUNT(*) FROM read_messages m WHERE m.case_id = x.case_id AND " + _UNREAD_WHERE + ")"
)


def _matching(query: CaseQuery) -> tuple[str, list[Any]]:
    """The SELECT of the cases a query matches: a line's columns, then the work queue's sort
    keys (review open, the viewer's own notifier, no deadline, the deadline's time or else the
    filing's), joined with the deadline it asks for; and its parameters."""
    mine = "CASE WHEN n.account_manager = ? THEN 0 ELSE 1 END" if query.viewer else "1"
    due = "k.due_at" if query.deadline is not None else "c.next_due_at"
    params: list[Any] = [Deadline.REVIEW.value, *([query.viewer] if query.viewer else [])]
    statement = (
        "SELECT c.case_id, c.notice_id, c.notifier_id, n.name, n.account_manager,"
        " c.marketplace, c.listing_id, c.seller_id, c.state, c.lane, c.filed_at, c.deadlines,"
        " c.identification_verdict,"
        " CASE WHEN EXISTS (SELECT 1 FROM read_deadlines r WHERE r.case_id = c.case_id"
        f" AND r.kind = ?) THEN 0 ELSE 1 END AS review, {mine} AS mine,"
        f" CASE WHEN {due} IS NULL THEN 1 ELSE 0 END AS undated,"
        f" COALESCE({due}, c.filed_at) AS due_key"
        " FROM read_cases c LEFT JOIN read_notifiers n ON n.notifier_id = c.notifier_id"
    )
    if query.deadline is not None:
        statement += " JOIN read_deadlines k ON k.case_id = c.case_id AND k.kind = ?"
        params.append(query.deadline.value)
    where: list[str] = []
    if query.reach is not None:
        reach = sorted(str(n) for n in query.reach) or [""]
        where.append(f"c.notifier_id IN ({', '.join('?' * len(reach))})")
        params += reach
    for column, value in (
        ("c.notifier_id", query.notifier_id),
        ("c.marketplace", query.marketplace),
        ("c.seller_id", query.seller_id),
        ("c.lane", query.lane),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(str(value))
    if query.states:
        where.append(f"c.state IN ({', '.join('?' * len(query.states))})")
        params += [state.value for state in query.states]
    if query.open_only:
        where.append(f"c.state NOT IN ({', '.join('?' * len(RESOLVED))})")
        params += sorted(state.value for state in RESOLVED)
    if query.due_before is not None:
        where.append(f"{due} <= ?")
        params.append(stamp(query.due_before))
    if where:
        statement += " WHERE " + " AND ".join(where)
    return statement, params


QUEUE_ORDER = ("review", "mine", "undated", "due_key", "filed_at", "case_id")
"""The work queue's order (projections.queues.queue_key) in the columns of `_matching`."""
NEWEST_ORDER = ("filed_at DESC", "case_id")
_POSITIONS = {
    name: str(number)
    for number, name in enumerate((*_COLUMNS, "review", "mine", "undated", "due_key"), start=1)
}


def _by_position(order: tuple[str, ...]) -> str:
    """An ORDER BY of `_matching` by column numbers (names can be ambiguous there: joined
    tables share them)."""
    return ", ".join(" ".join((_POSITIONS[key.split()[0]], *key.split()[1:])) for key in order)


def _with_unread(matching: str, params: list[Any], viewer: str | None) -> tuple[str, list[Any]]:
    """The lines of the matching cases, each with the viewer's unread messages (NULL: none
    counted), counted only for the cases selected."""
    columns = ", ".join(f"x.{column}" for column in _COLUMNS)
    if viewer is None:
        return f"SELECT {columns}, NULL AS unread FROM ({matching}) x", params
    return (
        f"SELECT {columns}, {_CASE_UNREAD} AS unread FROM ({matching}) x",
        [*_unread_params(viewer), *params],
    )


def _line(row: tuple[Any, ...], for_seller: bool) -> CaseLine:
    line = CaseLine(
        case_id=UUID(row[0]),
        notice_id=UUID(row[1]),
        notifier_id=UUID(row[2]),
        notifier_name=row[3],
        account_manager=row[4],
        marketplace=row[5],
        listing_id=row[6],
        seller_id=row[7],
        state=State(row[8]),
        lane=Lane(row[9]),
        filed_at=datetime.fromisoformat(row[10]),
        deadlines=deadlines_from(row[11]),
        identification_verdict=None if row[12] is None else Authenticity(row[12]),
        unread=None if row[13] is None else int(row[13]),
    )
    return redacted(line) if for_seller else line


def case_lines(dialect: Dialect, cur: Cursor, query: CaseQuery, queue: bool) -> list[CaseLine]:
    """A list's lines, the latest filed first, or (`queue`) the open ones in the work queue's
    order; one query, which counts unread messages only for the lines it returns."""
    if queue:
        query = query.model_copy(update={"open_only": True})
    order = QUEUE_ORDER if queue else NEWEST_ORDER
    matching, params = _matching(query)
    matching += f" ORDER BY {_by_position(order)} LIMIT {int(query.limit or DEFAULT_LIMIT)}"
    viewer = None if query.for_seller else query.viewer
    statement, params = _with_unread(matching, params, viewer)
    statement += f" ORDER BY {', '.join(f'x.{key}' for key in order)}"
    return [_line(row, query.for_seller) for row in _rows(dialect, cur, statement, *params)]


def needs_action(
    dialect: Dialect, cur: Cursor, reach: frozenset[UUID] | None, viewer: str
) -> list[ActionItem]:
    """What the cases of the notifiers in reach await from them, the soonest due first; one
    query: the cases with an open deadline that is the notifier's move or unread messages."""
    matching, params = _matching(CaseQuery(reach=reach))
    statement, params = _with_unread(matching, params, viewer)
    kinds = [kind.value for kind in ACTIONS]
    marks = ", ".join("?" * len(kinds))
    statement = (
        f"SELECT * FROM ({statement}) y WHERE y.unread > 0 OR EXISTS (SELECT 1 FROM"
        f" read_deadlines d WHERE d.case_id = y.case_id AND d.kind IN ({marks}))"
    )
    lines = [_line(row, False) for row in _rows(dialect, cur, statement, *params, *kinds)]
    return sorted((item for line in lines for item in actions(line)), key=action_key)


def notifiers(dialect: Dialect, cur: Cursor) -> list[NotifierSummary]:
    """Every notifier with its lane and case count, most cases first."""
    found = _rows(
        dialect,
        cur,
        "SELECT n.notifier_id, n.name, n.in_trusted_lane, n.account_manager, COUNT(c.case_id)"
        " FROM read_notifiers n LEFT JOIN read_cases c ON c.notifier_id = n.notifier_id"
        " GROUP BY n.notifier_id, n.name, n.in_trusted_lane, n.account_manager",
    )
    summaries = [
        NotifierSummary(
            notifier_id=i,
            name=name,
            in_trusted_lane=bool(lane),
            cases=count,
            account_manager=manager,
        )
        for i, name, lane, manager, count in found
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


def verify_audit(
    dialect: Dialect,
    cur: Cursor,
    conn: Any,
    observe: Callable[[AuditRecord], None] | None = None,
) -> AuditVerification:
    """Walk every audit chain against the recorded heads, showing `observe` every row."""
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
    return verify(records if observe is None else _observed(records, observe), heads)


def _observed(
    records: Iterator[AuditRecord], observe: Callable[[AuditRecord], None]
) -> Iterator[AuditRecord]:
    for record in records:
        observe(record)
        yield record


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
