"""The forms a case's page may offer, as one table, and which of them it offers: those the case
takes as it stands (the lifecycle table) and the user's roles allow on it (the permission
table). What is offered is still checked by the service."""

from __future__ import annotations

from dataclasses import dataclass

from domain.access import SellerKey
from domain.lifecycle import TRANSITIONS, Deadline, State, Step
from domain.permissions import Target
from ntd import reads
from ntd.web.pages.common import User


@dataclass(frozen=True, slots=True)
class Action:
    """A form on a case's page: the service's command it gives (also the permission table's
    row), the lifecycle step it takes (None: no step of the table), the kind of its fields."""

    slug: str
    command: str
    step: Step | None
    title: str
    form: str
    removal: bool = False
    despite: bool = False
    """Takes `despite_genuine` (a decision that keeps or puts the listing down)."""
    confirm: str = ""
    danger: bool = False
    versioned: bool = True
    """Carries the case version it was decided on (If-Match): a stale one is refused."""


S = Step
# fmt: off
ACTIONS: tuple[Action, ...] = (
    Action("take-down", "take_down", S.TAKE_DOWN, "Take down", "reasons", removal=True,
           despite=True, confirm="Take the listing down?", danger=True),
    Action("decline", "decline", S.DECLINE, "Decline", "reasons"),
    Action("request-clarification", "request_clarification", S.REQUEST_CLARIFICATION,
           "Request clarification", "question"),
    Action("request-identification", "request_identification", S.REQUEST_IDENTIFICATION,
           "Request identification", "identification"),
    Action("confirm", "confirm_takedown", S.CONFIRM_TAKEDOWN, "Confirm the takedown", "reasons",
           removal=True, despite=True),
    Action("reverse", "reverse_takedown", S.REVERSE_TAKEDOWN, "Reverse the takedown", "reasons"),
    Action("forward", "forward_to_notifier", S.FORWARD_TO_NOTIFIER,
           "Forward the counter-notice", "none"),
    Action("uphold-appeal", "uphold_appeal", S.UPHOLD_APPEAL, "Uphold the appeal", "reasons"),
    Action("reject-appeal", "reject_appeal", S.REJECT_APPEAL, "Reject the appeal", "reasons",
           removal=True, despite=True),
    Action("provide-clarification", "provide_clarification", S.PROVIDE_CLARIFICATION,
           "Answer the clarification request", "answer"),
    Action("identify", "answer_identification", S.ANSWER_IDENTIFICATION,
           "Answer the identification request", "identify"),
    Action("report-litigation", "report_litigation", S.REPORT_LITIGATION,
           "Report litigation", "litigation"),
    Action("counter-notice", "counter_notice", S.COUNTER_NOTICE,
           "Counter-notice (appeal the takedown)", "counter"),
    Action("message", "post_message", None, "Post a message", "message", versioned=False),
    Action("withdraw", "withdraw", S.WITHDRAW, "Withdraw the notice for this listing", "reason",
           confirm="Withdraw?"),
    Action("close", "close_case", S.CLOSE, "Close the case", "reason", confirm="Close for good?"),
)
# fmt: on
"""Each form, in the order the page shows them: one row a form, as a table reads."""


def _applies(action: Action, detail: reads.CaseDetail) -> bool:
    """Whether the case, as it stands, takes the action: the lifecycle table, and the few
    conditions the aggregate checks beyond it (an open request, an open appeal window)."""
    if action.step is not None and (action.step, detail.state) not in TRANSITIONS:
        return False
    if action.form == "identify":
        return detail.identification_request is not None
    if action.form == "counter":
        return Deadline.COUNTER_NOTICE in detail.deadlines
    if action.form == "message":
        return detail.conversation is not None and detail.state is not State.CLOSED
    return True


def offered(detail: reads.CaseDetail, user: User) -> list[Action]:
    """The forms to show: actions the case takes now and the user's roles allow on it."""
    seller = SellerKey(marketplace=detail.listing.marketplace, seller_ref=detail.listing.seller_id)
    target = Target(f"case {detail.case_id}", notifier_id=detail.notifier_id, seller=seller)
    return [a for a in ACTIONS if _applies(a, detail) and user.may(a.command, target)]
