"""A case rendered for the CLI: where it stands, its deadlines, its statement of reasons and
its timeline, as text or as JSON-ready data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.case import (
    Authenticity,
    Case,
    IdentificationCited,
    IdentificationRequest,
    Message,
    SwornStatement,
)
from domain.catalog import event_type
from domain.values import StatementOfReasons
from ntd.case_view import cited_identification, event_facts, replay_states
from ntd.cli.render import escape, pairs, plain, table
from ntd.formats import relative, short, when


def sworn_brief(s: SwornStatement) -> str:
    """What the notifier swore and who signed, on one line."""
    sworn = [
        what
        for what, yes in (
            ("good faith", s.good_faith_statement),
            ("accuracy", s.accuracy_statement),
        )
        if yes
    ]
    return (
        f"signed “{s.signature}” by {s.submitted_by} · {s.contact.name} <{s.contact.email}> · "
        f"affirms {' and '.join(sworn) or 'nothing'}"
    )


def missed_deadlines(events: Sequence[Any]) -> list[tuple[str, str, str]]:
    """Each deadline the case missed: its kind, when it was due, when it was recorded missed."""
    return [
        (e.deadline.value, when(e.due_at), when(e.timestamp))
        for e in events
        if isinstance(e, Case.DeadlineMissed)
    ]


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


def answer_brief(a: IdentificationCited) -> str:
    """An identification answer on one line."""
    return (
        f"{a.verdict.value} · by {a.answered_by} · {when(a.answered_at)} · “{short(a.basis, 80)}”"
    )


GENUINE_WARNING = (
    "  ! the notifier says the goods are GENUINE: this weighs against takedown "
    "(take-down, confirm and reject-appeal need --despite-genuine)"
)


def identification_view(case: Case, now: datetime, staff: bool = False) -> list[str]:
    """The open identification request and the notifier's latest answer, if any; a `genuine`
    answer is flagged for the platform's staff, who decide."""
    request, answer = case.identification_request, case.identification
    if request is None and answer is None:
        return []
    lines = ["", "identification"]
    if request is not None:
        lines.append(request_view(request, now))
    if answer is not None:
        lines.append(pairs([("latest answer", answer_brief(answer))], indent=2))
        if staff and answer.verdict is Authenticity.GENUINE:
            lines.append(GENUINE_WARNING)
    return lines


def request_view(r: IdentificationRequest, now: datetime) -> str:
    """An open identification request: what is asked, what to judge, when it is due."""
    facts = [
        ("open request", f"“{short(r.question, 100)}”"),
        ("asked by", f"{r.requested_by} · {when(r.requested_at)}"),
        ("answer by", f"{when(r.respond_by)} ({relative(r.respond_by, now)})"),
    ]
    facts += [
        ("item", f"{i.kind.value}: {i.reference}" + (f"  sha256 {i.sha256}" if i.sha256 else ""))
        for i in r.items
    ]
    return pairs(facts, indent=2)


def conversation_view(messages: Sequence[Message]) -> list[str]:
    """The case's conversation, oldest first: author, role, time, text."""
    lines = ["", "conversation"]
    if not messages:
        return [*lines, "  no messages"]
    for m in messages:
        role = m.author.role.value if m.author.role else "—"
        lines.append(f"  {when(m.at)}  {m.author.principal} ({role})")
        lines += [f"    {line}" for line in m.text.splitlines() or [""]]
        lines += [f"    evidence {e.kind}: {e.reference}  sha256 {e.sha256}" for e in m.evidence]
    return lines


def case_view(
    case: Case,
    events: Sequence[Any],
    notifier_name: str,
    now: datetime,
    as_of: str | None = None,
    conversation: bool = False,
    staff: bool = False,
) -> str:
    """Everything about one case: where it stands, what is due, why, and how it got there;
    its conversation only when the viewer may read it (never a seller)."""
    title = f"case {case.id}  {case.state.value}  ({case.lane.value} lane, version {case.version})"
    if as_of:
        title += f"\nas it stood {as_of}"
    listing = case.listing
    notice = str(case.notice_id)
    if case.client_notice_id and case.client_notice_id != case.notice_id:
        notice += f"  (the notifier's id {case.client_notice_id})"
    facts = [
        ("notice", notice),
        ("notifier", f"{notifier_name} ({case.notifier_id})"),
        ("right", f"{case.right_type.value} ({case.right_id})"),
        ("listing", f"{listing.marketplace}/{listing.listing_id}  {listing.url}"),
        ("seller", listing.seller_id),
        ("reason", case.reason_code.value),
        ("source", case.source_type.value),
    ]
    if case.sworn:
        facts.append(("sworn", sworn_brief(case.sworn)))
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
    missed = missed_deadlines(events)
    if missed:
        lines += ["", "missed deadlines"]
        lines.append(table(("DEADLINE", "DUE", "RECORDED MISSED"), missed, indent=2))
    lines += identification_view(case, now, staff)
    lines += ["", "statement of reasons"]
    cited = cited_identification(events)
    lines.append(reasons_view(case.reasons, cited) if case.reasons else "  none yet (no decision)")
    if conversation:
        lines += conversation_view(case.messages)
    lines += ["", "timeline", timeline(events)]
    return escape("\n".join(lines))


def reasons_view(r: StatementOfReasons, cited: IdentificationCited | None = None) -> str:
    """A statement of reasons, field by field, in the DSA's terms, with the identification
    answer the decision cited."""
    return pairs(
        [
            ("decision_ground", r.ground.value),
            ("legal ground", r.legal_ground),
            ("decision_facts", short(r.facts, 200)),
            ("decision_visibility", ", ".join(v.value for v in r.visibility)),
            ("automated_detection", "Yes" if r.automated_detection else "No"),
            ("automated_decision", r.automated_decision.value),
            ("territorial_scope", ", ".join(r.territorial_scope) or "(not limited)"),
            *([("identification cited", answer_brief(cited))] if cited else []),
        ],
        indent=2,
    )


def case_json(case: Case, events: Sequence[Any], conversation: bool = False) -> dict[str, Any]:
    """The case and its timeline as JSON-ready data; its conversation only when the viewer
    may read it (never a seller)."""
    data = {
        "case_id": str(case.id),
        "version": case.version,
        "state": case.state.value,
        "lane": case.lane.value,
        "notice_id": str(case.notice_id),
        "client_notice_id": str(case.client_notice_id) if case.client_notice_id else None,
        "notifier_id": str(case.notifier_id),
        "right_id": str(case.right_id),
        "right_type": case.right_type.value,
        "listing": plain(case.listing),
        "sworn": plain(case.sworn) if case.sworn else None,
        "reason_code": case.reason_code.value,
        "source_type": case.source_type.value,
        "deadlines": {k.value: v.isoformat() for k, v in case.deadlines.items()},
        "missed": [d.value for d in case.missed],
        "reasons": plain(case.reasons) if case.reasons else None,
        "taken_down_at": case.taken_down_at.isoformat() if case.taken_down_at else None,
        "counter_noticed": case.counter_noticed,
        "litigation": case.litigation,
        "identification_request": plain(case.identification_request),
        "identification": plain(case.identification),
        "identification_cited": plain(cited_identification(events)),
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
    if conversation:
        data["conversation"] = [
            {
                "at": m.at.isoformat(),
                "author": str(m.author.principal),
                "role": m.author.role.value if m.author.role else None,
                "text": m.text,
                "evidence": [plain(e) for e in m.evidence],
            }
            for m in case.messages
        ]
    return data
