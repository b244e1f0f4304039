"""Plain-text rendering for the CLI and the demo: aligned tables, cases, timelines, dashboards."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TextIO
from uuid import UUID

from pydantic import BaseModel

from domain.application import FilingReceipt
from domain.case import TRANSITIONS, Case, State
from domain.catalog import event_type
from domain.notifier import Notifier
from domain.values import StatementOfReasons
from projections.audit import CONTENT_FIELDS

DASH = "—"
SPARKS = "▁▂▃▄▅▆▇█"


# -- values ----------------------------------------------------------------------------------


def when(moment: datetime | None) -> str:
    """A moment in UTC to the minute, e.g. `2026-11-28 09:14 UTC`."""
    if moment is None:
        return DASH
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def relative(moment: datetime, now: datetime) -> str:
    """`in 3 d 4 h` or `2 h ago`, to the nearest hour (minutes under an hour)."""
    seconds = (moment - now).total_seconds()
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        span = f"{days} d {hours} h" if hours else f"{days} d"
    elif hours:
        span = f"{hours} h"
    else:
        span = f"{mins} min"
    return f"in {span}" if seconds >= 0 else f"{span} ago"


def pct(share: float | None) -> str:
    """A share as a percentage with one decimal, or a dash when there is nothing to divide."""
    return DASH if share is None else f"{share * 100:.1f} %"


def hours(value: float | None) -> str:
    """Hours with one decimal, or a dash."""
    return DASH if value is None else f"{value:.1f} h"


def short(text: str, width: int = 60) -> str:
    """One line, at most `width` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def plain(value: Any) -> Any:
    """A value as JSON-ready data (pydantic models, dataclasses, enums, times, ids)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def as_dict(row: Any) -> dict[str, Any]:
    """A row (pydantic model, dataclass, named tuple or mapping) as a plain dict."""
    if isinstance(row, Mapping):
        return dict(row)
    if isinstance(row, BaseModel):
        return dict(row)
    if hasattr(row, "_asdict"):
        return dict(row._asdict())
    if hasattr(row, "__dataclass_fields__"):
        return {name: getattr(row, name) for name in row.__dataclass_fields__}
    return dict(vars(row))


def cell(value: Any) -> str:
    """How one value reads in a table cell."""
    if value is None:
        return DASH
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if hasattr(value, "value") and isinstance(value.value, str):
        return str(value.value)
    return str(value)


# -- layout ----------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], indent: int = 0) -> str:
    """Columns aligned to their widest cell; numbers right-aligned."""
    raw = [list(row) for row in rows]
    body = [[cell(v) for v in row] for row in raw]
    numeric = [
        bool(raw) and all(isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in raw)
        for i in range(len(headers))
    ]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]
    pad = " " * indent

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return (pad + "  ".join(parts)).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in body)])


def pairs(items: Iterable[tuple[str, Any]], indent: int = 0) -> str:
    """`key  value` lines with the values aligned."""
    items = [(k, v if isinstance(v, str) else cell(v)) for k, v in items]
    width = max((len(k) for k, _ in items), default=0)
    pad = " " * indent
    return "\n".join(f"{pad}{k.ljust(width)}  {v}".rstrip() for k, v in items)


def sparkline(values: Sequence[int]) -> str:
    """A row of block characters, one per value, scaled to the largest."""
    top = max(values, default=0)
    if top == 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[min(len(SPARKS) - 1, round(v / top * (len(SPARKS) - 1)))] for v in values)


def counts(mapping: Mapping[str, int]) -> str:
    """`a 3 · b 1`, largest first; a dash when empty."""
    items = sorted(((str(plain(k)), v) for k, v in mapping.items() if v), key=lambda kv: -kv[1])
    return " · ".join(f"{k} {v:,}" for k, v in items) or DASH


PASSED = {
    "review": "reviews overdue",
    "clarification": "clarifications lapsed",
    "restoration": "listings restored",
    "counter_notice": "appeal windows closed",
}
"""What a missed deadline of each kind means, as a brand reads it."""


def passed_deadlines(mapping: Mapping[Any, int]) -> str:
    """The dashboard's missed deadlines, named by what they mean, largest first."""
    return counts({PASSED.get(str(plain(k)), str(plain(k))): v for k, v in mapping.items()})


# -- receipts and aggregates -------------------------------------------------------------------


def receipt(r: FilingReceipt) -> str:
    """What a notifier sees after filing: the notice and the case holding each listing."""
    new = len(r.new_case_ids)
    head = (
        f"notice {r.notice_id} accepted ({r.lane.value} lane): "
        f"{len(r.cases)} listing{'s' if len(r.cases) != 1 else ''}, {new} new "
        f"case{'s' if new != 1 else ''}, {len(r.cases) - new} already open"
    )
    rows = [
        (
            str(c.case_id),
            f"{c.marketplace}/{c.listing_id}",
            "already open" if c.already_open else "new",
            r.lane.value,
        )
        for c in r.cases
    ]
    return head + "\n" + table(("CASE", "LISTING", "STATUS", "LANE"), rows, indent=2)


def notifier_view(n: Notifier, now: datetime) -> str:
    """A notifier's identity, rights and standing."""
    suspended = (
        f"until {when(n.suspended_until)}"
        if n.is_suspended(now)
        else (f"ended {when(n.suspended_until)}" if n.suspended_until else "no")
    )
    head = pairs(
        [
            ("notifier", str(n.id)),
            ("name", n.name),
            ("kind", n.kind.value),
            ("contact", n.contact_email),
            ("version", str(n.version)),
        ]
    )
    rights = (
        table(
            ("RIGHT", "TYPE", "NUMBER", "JURISDICTION", "STATUS", "NOTE"),
            [
                (
                    str(r.right_id),
                    r.right_type.value,
                    r.registration_number,
                    r.jurisdiction,
                    r.status.value,
                    r.rejection_reason or "",
                )
                for r in n.rights.values()
            ],
            indent=2,
        )
        if n.rights
        else "  (none registered)"
    )
    standing = pairs(
        [
            ("trusted lane", "yes" if n.in_trusted_lane else "no"),
            ("may re-apply on", n.may_reapply_on.isoformat() if n.may_reapply_on else DASH),
            ("misuse warnings", str(n.warnings)),
            ("suspended", suspended),
        ],
        indent=2,
    )
    return f"{head}\n\nrights\n{rights}\n\nstanding\n{standing}"


# -- cases -----------------------------------------------------------------------------------


def replay_states(events: Sequence[Any]) -> list[State]:
    """The case's state after each event, by the lifecycle table."""
    states: list[State] = []
    state = State.FILED
    for e in events:
        if isinstance(e, Case.Transitioned):
            state = TRANSITIONS[(e.step, state)]
        states.append(state)
    return states


def reasons_brief(r: StatementOfReasons) -> str:
    """A statement of reasons on one line."""
    ground = r.ground.value.removeprefix("DECISION_GROUND_").lower()
    return f"{ground} · “{short(r.facts, 60)}”"


def event_facts(e: Any) -> str:
    """The key facts of one case event, on one line."""
    match e:
        case Case.Filed():
            return (
                f"{e.lane.value} lane · {e.reason_code.value} · "
                f"{e.listing.marketplace}/{e.listing.listing_id} · seller "
                f"{e.listing.seller_id} · {len(e.evidence)} evidence"
            )
        case Case.ClarificationRequested():
            return f"“{short(e.question, 50)}” · answer by {when(e.respond_by)}"
        case Case.ClarificationProvided():
            return f"“{short(e.answer, 60)}”"
        case Case.TakenDown():
            review = f" · review by {when(e.review_by)}" if e.review_by else ""
            return f"{e.lane.value} lane{review} · {reasons_brief(e.reasons)}"
        case Case.SellerNotified():
            return f"seller {e.seller_id} · counter-notice by {when(e.counter_notice_by)}"
        case Case.CounterNoticed():
            consent = "consents" if e.consents_to_jurisdiction else "no consent"
            return f"“{short(e.statement, 50)}” · {consent} to jurisdiction"
        case Case.ForwardedToNotifier():
            return f"restore on {when(e.restore_on)} unless litigation"
        case Case.LitigationReported():
            return f"{e.court} · ref {e.reference}"
        case Case.DeadlineMissed():
            return f"{e.deadline.value} deadline passed (due {when(e.due_at)})"
        case Case.Withdrawn() | Case.Closed():
            return f"“{short(e.reason, 60)}”"
    reasons = getattr(e, "reasons", None)
    return reasons_brief(reasons) if isinstance(reasons, StatementOfReasons) else ""


def timeline(events: Sequence[Any]) -> str:
    """One line per event: version, time, actor, event type, resulting state, key facts."""
    rows = [
        (
            e.originator_version,
            when(e.timestamp),
            str(e.actor),
            event_type(type(e)),
            state.value,
            event_facts(e),
        )
        for e, state in zip(events, replay_states(events), strict=True)
    ]
    return table(("V", "TIME", "ACTOR", "EVENT", "STATE", "FACTS"), rows, indent=2)


def case_view(
    case: Case, events: Sequence[Any], notifier_name: str, now: datetime, as_of: str | None = None
) -> str:
    """Everything about one case: where it stands, what is due, why, and how it got there."""
    title = f"case {case.id}  {case.state.value}  ({case.lane.value} lane, version {case.version})"
    if as_of:
        title += f"\nas it stood {as_of}"
    listing = case.listing
    facts = [
        ("notice", str(case.notice_id)),
        ("notifier", f"{notifier_name} ({case.notifier_id})"),
        ("right", f"{case.right_type.value} ({case.right_id})"),
        ("listing", f"{listing.marketplace}/{listing.listing_id}  {listing.url}"),
        ("seller", listing.seller_id),
        ("reason", case.reason_code.value),
        ("source", case.source_type.value),
    ]
    if case.taken_down_at:
        facts.append(("taken down", when(case.taken_down_at)))
    if case.litigation:
        facts.append(("litigation", "reported"))
    lines = [title, pairs(facts, indent=2), "", "open deadlines"]
    if case.deadlines:
        lines.append(
            table(
                ("DEADLINE", "DUE", ""),
                [
                    (k.value, when(v), relative(v, now))
                    for k, v in sorted(case.deadlines.items(), key=lambda kv: kv[1])
                ],
                indent=2,
            )
        )
    else:
        lines.append("  none")
    if case.missed:
        lines.append("  missed: " + ", ".join(d.value for d in case.missed))
    lines += ["", "statement of reasons"]
    lines.append(reasons_view(case.reasons) if case.reasons else "  none yet (no decision)")
    lines += ["", "timeline", timeline(events)]
    return "\n".join(lines)


def reasons_view(r: StatementOfReasons) -> str:
    """A statement of reasons, field by field, in the DSA's terms."""
    return pairs(
        [
            ("decision_ground", r.ground.value),
            ("legal ground", r.legal_ground),
            ("decision_facts", short(r.facts, 200)),
            ("decision_visibility", ", ".join(v.value for v in r.visibility)),
            ("automated_detection", "Yes" if r.automated_detection else "No"),
            ("automated_decision", r.automated_decision.value),
            ("territorial_scope", ", ".join(r.territorial_scope) or "(not limited)"),
        ],
        indent=2,
    )


def case_json(case: Case, events: Sequence[Any]) -> dict[str, Any]:
    """The case and its timeline as JSON-ready data."""
    return {
        "case_id": str(case.id),
        "version": case.version,
        "state": case.state.value,
        "lane": case.lane.value,
        "notice_id": str(case.notice_id),
        "notifier_id": str(case.notifier_id),
        "right_id": str(case.right_id),
        "right_type": case.right_type.value,
        "listing": plain(case.listing),
        "reason_code": case.reason_code.value,
        "source_type": case.source_type.value,
        "deadlines": {k.value: v.isoformat() for k, v in case.deadlines.items()},
        "missed": [d.value for d in case.missed],
        "reasons": plain(case.reasons) if case.reasons else None,
        "taken_down_at": case.taken_down_at.isoformat() if case.taken_down_at else None,
        "counter_noticed": case.counter_noticed,
        "litigation": case.litigation,
        "timeline": [
            {
                "version": e.originator_version,
                "at": e.timestamp.isoformat(),
                "actor": str(e.actor),
                "event_type": event_type(type(e)),
                "state": state.value,
                "facts": event_facts(e),
                "payload": e.model_dump(
                    mode="json",
                    exclude={"originator_id", "originator_version", "timestamp", "actor"},
                ),
            }
            for e, state in zip(events, replay_states(events), strict=True)
        ],
    }


# -- dashboard -------------------------------------------------------------------------------


def dashboard_view(d: Any, days: int = 28) -> str:
    """A brand's dashboard as aligned text."""
    per_day = sorted((str(k), int(v)) for k, v in d.filed_per_day.items())
    recent = per_day[-days:]
    filed_line = DASH
    if recent:
        filed_line = (
            f"{sparkline([v for _, v in recent])}  {recent[0][0]} → {recent[-1][0]} "
            f"(last {len(recent)} days with filings; max "
            f"{max(v for _, v in per_day):,}/day)"
        )
    lane = "yes" if d.trusted.in_trusted_lane else "no"
    lines = [
        f"{d.name or '(unknown notifier)'}  (notifier {d.notifier_id})  trusted lane: {lane}",
        f"as of {when(d.as_of)}",
        "",
        pairs(
            [
                ("cases", f"{d.cases:,}"),
                ("cases by state", counts(d.cases_by_state)),
                ("filed per day", filed_line),
                ("decided", f"{d.decided:,}"),
                (
                    "taken down",
                    f"{d.taken_down:,}  (takedown rate {pct(d.takedown_rate)} of "
                    "decided, net of reversals)",
                ),
                ("declined", f"{d.declined:,}  ({pct(d.decline_rate)} of decided)"),
                (
                    "time to takedown",
                    f"p50 {hours(d.time_to_takedown_p50_hours)} · "
                    f"p90 {hours(d.time_to_takedown_p90_hours)}",
                ),
                (
                    "counter-noticed",
                    f"{d.counter_noticed:,}  ({pct(d.counter_notice_rate)} of takedowns)",
                ),
                ("reversed", f"{d.reversed:,}  ({pct(d.reversal_rate)} of takedowns)"),
                ("withdrawn", f"{d.withdrawn:,}"),
                ("open deadlines", counts(d.open_deadlines)),
                ("deadlines passed", passed_deadlines(d.breaches)),
            ],
            indent=2,
        ),
    ]
    if d.top_sellers:
        lines += [
            "",
            "top infringing sellers (takedowns net of reversals)",
            table(
                ("SELLER", "MARKETPLACE", "TAKEDOWNS"),
                [(s.seller_id, s.marketplace, s.takedowns) for s in d.top_sellers],
                indent=2,
            ),
        ]
    t = d.trusted
    verdict = "qualifies" if t.qualifies else "does not qualify"
    lines += [
        "",
        f"trusted-lane standing (last {t.window_days} days)",
        pairs(
            [
                ("window", f"cases filed since {when(t.window_start)}"),
                ("notices", f"{t.notices:,}  (at least {t.min_notices:,})"),
                (
                    "takedown share",
                    f"{pct(t.takedown_share)}  (at least {pct(t.min_takedown_share)}; "
                    f"{t.taken_down - t.reversed:,} of {t.decided:,} decided)",
                ),
                (
                    "reversal share",
                    f"{pct(t.reversal_share)}  (at most {pct(t.max_reversal_share)}; "
                    f"{t.reversed:,} of {t.taken_down:,} takedowns)",
                ),
                ("verdict", f"{verdict}; {'in' if t.in_trusted_lane else 'not in'} the lane"),
            ],
            indent=2,
        ),
    ]
    return "\n".join(lines)


# -- audit -----------------------------------------------------------------------------------

AUDIT_FIELDS = (*CONTENT_FIELDS, "prev_hash", "hash")
"""An audit row's columns: what its hash covers, then the chain."""
AUDIT_TABLE = (
    ("SEQ", 7),
    ("OCCURRED", 20),
    ("AGGREGATE", 9),
    ("ID", 36),
    ("V", 3),
    ("ACTOR", 24),
    ("EVENT", 25),
    ("HASH", 12),
)
_AUDIT_NUMERIC = {"SEQ", "V"}


def audit_table(rows: Iterable[Any]) -> Iterator[str]:
    """Audit rows as a fixed-width table, line by line (rows are streamed, not measured)."""
    yield "  ".join(
        h.rjust(w) if h in _AUDIT_NUMERIC else h.ljust(w) for h, w in AUDIT_TABLE
    ).rstrip()
    for row in rows:
        r = as_dict(row)
        values = (
            r["seq"],
            when(_time(r["occurred_at"])),
            r["aggregate_type"],
            r["aggregate_id"],
            r["version"],
            r["actor"],
            r["event_type"],
            str(r["hash"])[:12],
        )
        cells = [
            short(cell(v), w).ljust(w) if not isinstance(v, int) else str(v).rjust(w)
            for v, (_, w) in zip(values, AUDIT_TABLE, strict=True)
        ]
        yield "  ".join(cells).rstrip()


def _time(value: Any) -> datetime | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value  # type: ignore[no-any-return]


def write_audit_csv(rows: Iterable[Any], out: TextIO) -> int:
    """Every audit field as CSV with a header; returns the row count."""
    writer = csv.writer(out)
    writer.writerow(AUDIT_FIELDS)
    n = 0
    for row in rows:
        r = as_dict(row)
        writer.writerow(["" if r.get(f) is None else plain(r.get(f)) for f in AUDIT_FIELDS])
        n += 1
    return n


def write_audit_jsonl(rows: Iterable[Any], out: TextIO) -> int:
    """One JSON object per row, with payload and reasons as nested JSON; returns the count."""
    n = 0
    for row in rows:
        r = {f: plain(v) for f, v in as_dict(row).items()}
        for key in ("payload", "reasons"):
            if isinstance(r.get(key), str):
                r[key] = json.loads(r[key])
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
        n += 1
    return n


def audit_excerpt(rows: Iterable[Any]) -> list[str]:
    """A case's audit rows, compact: who did what when, and how each row links to the last."""
    body = []
    for row in rows:
        r = as_dict(row)
        body.append(
            (
                r["seq"],
                r["version"],
                when(_time(r["occurred_at"])),
                r["actor"],
                r["event_type"],
                f"{str(r['prev_hash'])[:10]} → {str(r['hash'])[:10]}",
            )
        )
    return table(
        ("SEQ", "V", "OCCURRED", "ACTOR", "EVENT", "CHAIN (prev → hash)"), body, indent=2
    ).splitlines()
