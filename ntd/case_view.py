"""What the CLI and the portal both say about a case's events: the state after each, the
identification answer a decision cited, and each event's key facts on one line (the wording of
`ntd case show` and the portal's timeline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.case import Case, IdentificationCited
from domain.lifecycle import TRANSITIONS, State
from domain.values import StatementOfReasons
from ntd.formats import short, when


def replay_states(events: Sequence[Any]) -> list[State]:
    """The case's state after each event, by the lifecycle table."""
    states: list[State] = []
    state = State.FILED
    for e in events:
        if isinstance(e, Case.Transitioned):
            state = TRANSITIONS[(e.step, state)]
        states.append(state)
    return states


def cited_identification(events: Sequence[Any]) -> IdentificationCited | None:
    """The identification answer the latest decision cited, if it cited one."""
    for e in reversed(events):
        if isinstance(getattr(e, "reasons", None), StatementOfReasons):
            cited = getattr(e, "identification", None)
            return cited if isinstance(cited, IdentificationCited) else None
    return None


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
            forward = f" · forward by {when(e.forward_by)}" if e.forward_by else ""
            return f"“{short(e.statement, 50)}” · {consent} to jurisdiction{forward}"
        case Case.ForwardedToNotifier():
            return f"restore on {when(e.restore_on)} unless litigation"
        case Case.LitigationReported():
            return f"{e.court} · ref {e.reference}"
        case Case.DeadlineMissed():
            return f"{e.deadline.value} deadline passed (due {when(e.due_at)})"
        case Case.IdentificationRequested():
            return (
                f"“{short(e.question, 50)}” · {len(e.items)} items · answer by {when(e.respond_by)}"
            )
        case Case.IdentificationAnswered():
            return f"{e.verdict.value} · “{short(e.basis, 50)}” · {len(e.evidence)} evidence"
        case Case.MessagePosted():
            return f"“{short(e.text, 60)}” · {len(e.evidence)} evidence"
        case Case.Withdrawn() | Case.Closed():
            return f"“{short(e.reason, 60)}”"
    reasons = getattr(e, "reasons", None)
    if not isinstance(reasons, StatementOfReasons):
        return ""
    cited = getattr(e, "identification", None)
    return reasons_brief(reasons) + (f" · cites {cited.verdict.value}" if cited else "")
