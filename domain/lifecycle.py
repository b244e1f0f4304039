"""The case lifecycle as data: its states, its steps, the one table of allowed transitions, the
deadlines and what passing each one does, and the error the guard raises. `Case` (domain/case.py)
checks every step against `TRANSITIONS`; docs/domain.md shows the table (scripts/docs)."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from domain.values import DomainError


class State(StrEnum):
    FILED = "filed"
    AWAITING_CLARIFICATION = "awaiting_clarification"
    TAKEN_DOWN_PENDING_REVIEW = "taken_down_pending_review"
    TAKEN_DOWN = "taken_down"
    DECLINED = "declined"
    COUNTER_NOTICED = "counter_noticed"
    FORWARDED = "forwarded_to_notifier"
    IN_LITIGATION = "in_litigation"
    REINSTATED = "reinstated"
    APPEAL_REJECTED = "appeal_rejected"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"
    CLOSED = "closed"


class Step(StrEnum):
    REQUEST_CLARIFICATION = "request_clarification"
    PROVIDE_CLARIFICATION = "provide_clarification"
    LAPSE_CLARIFICATION = "lapse_clarification"
    TAKE_DOWN = "take_down"
    TAKE_DOWN_TRUSTED = "take_down_trusted"
    DECLINE = "decline"
    CONFIRM_TAKEDOWN = "confirm_takedown"
    REVERSE_TAKEDOWN = "reverse_takedown"
    MISS_REVIEW = "miss_review"
    NOTIFY_SELLER = "notify_seller"
    COUNTER_NOTICE = "counter_notice"
    CLOSE_APPEAL_WINDOW = "close_appeal_window"
    FORWARD_TO_NOTIFIER = "forward_to_notifier"
    MISS_FORWARDING = "miss_forwarding"
    REPORT_LITIGATION = "report_litigation"
    RESTORE_AFTER_FORWARDING = "restore_after_forwarding"
    UPHOLD_APPEAL = "uphold_appeal"
    REJECT_APPEAL = "reject_appeal"
    WITHDRAW = "withdraw"
    CLOSE = "close"
    REQUEST_IDENTIFICATION = "request_identification"
    ANSWER_IDENTIFICATION = "answer_identification"
    LAPSE_IDENTIFICATION = "lapse_identification"


S = State
TAKEN = (S.TAKEN_DOWN, S.TAKEN_DOWN_PENDING_REVIEW)
APPEALING = (S.COUNTER_NOTICED, S.FORWARDED, S.IN_LITIGATION)
OPEN = (S.FILED, S.AWAITING_CLARIFICATION, *TAKEN, *APPEALING, S.APPEAL_REJECTED)
RESOLVED = frozenset({S.DECLINED, S.REINSTATED, S.WITHDRAWN, S.LAPSED, S.CLOSED})
"""A listing with a resolved case may be the subject of a new case."""
IDENTIFYING = (S.FILED, S.TAKEN_DOWN_PENDING_REVIEW, S.COUNTER_NOTICED)
"""Where the notifier may be asked whether the listing's goods are genuine: before a decision,
during a fast-lane takedown's review, and on appeal. A step that leaves these states closes an
open request unanswered (domain/case.py)."""

TRANSITIONS: dict[tuple[Step, State], State] = {
    (Step.REQUEST_CLARIFICATION, S.FILED): S.AWAITING_CLARIFICATION,
    (Step.PROVIDE_CLARIFICATION, S.AWAITING_CLARIFICATION): S.FILED,
    (Step.LAPSE_CLARIFICATION, S.AWAITING_CLARIFICATION): S.LAPSED,
    (Step.TAKE_DOWN, S.FILED): S.TAKEN_DOWN,
    (Step.TAKE_DOWN_TRUSTED, S.FILED): S.TAKEN_DOWN_PENDING_REVIEW,
    (Step.DECLINE, S.FILED): S.DECLINED,
    (Step.CONFIRM_TAKEDOWN, S.TAKEN_DOWN_PENDING_REVIEW): S.TAKEN_DOWN,
    (Step.REVERSE_TAKEDOWN, S.TAKEN_DOWN_PENDING_REVIEW): S.REINSTATED,
    (Step.MISS_REVIEW, S.TAKEN_DOWN_PENDING_REVIEW): S.TAKEN_DOWN_PENDING_REVIEW,
    **{(Step.NOTIFY_SELLER, s): s for s in TAKEN},
    **{(Step.COUNTER_NOTICE, s): S.COUNTER_NOTICED for s in TAKEN},
    (Step.CLOSE_APPEAL_WINDOW, S.TAKEN_DOWN): S.CLOSED,
    (Step.CLOSE_APPEAL_WINDOW, S.TAKEN_DOWN_PENDING_REVIEW): S.TAKEN_DOWN_PENDING_REVIEW,
    (Step.FORWARD_TO_NOTIFIER, S.COUNTER_NOTICED): S.FORWARDED,
    (Step.MISS_FORWARDING, S.COUNTER_NOTICED): S.COUNTER_NOTICED,
    (Step.REPORT_LITIGATION, S.FORWARDED): S.IN_LITIGATION,
    (Step.RESTORE_AFTER_FORWARDING, S.FORWARDED): S.REINSTATED,
    **{(Step.UPHOLD_APPEAL, s): S.REINSTATED for s in APPEALING},
    **{(Step.REJECT_APPEAL, s): S.APPEAL_REJECTED for s in APPEALING},
    **{(Step.WITHDRAW, s): S.WITHDRAWN for s in OPEN},
    **{(Step.CLOSE, s): S.CLOSED for s in State if s is not S.CLOSED},
    **{(Step.REQUEST_IDENTIFICATION, s): s for s in IDENTIFYING},
    **{(Step.ANSWER_IDENTIFICATION, s): s for s in IDENTIFYING},
    **{(Step.LAPSE_IDENTIFICATION, s): s for s in IDENTIFYING},
}
"""Every allowed (step, from-state) pair and the state it leads to; nothing else is allowed."""


class Deadline(StrEnum):
    CLARIFICATION = "clarification"
    REVIEW = "review"
    COUNTER_NOTICE = "counter_notice"
    FORWARDING = "forwarding"
    RESTORATION = "restoration"
    IDENTIFICATION = "identification"


DEADLINE_STEP = {
    Deadline.CLARIFICATION: Step.LAPSE_CLARIFICATION,
    Deadline.REVIEW: Step.MISS_REVIEW,
    Deadline.COUNTER_NOTICE: Step.CLOSE_APPEAL_WINDOW,
    Deadline.FORWARDING: Step.MISS_FORWARDING,
    Deadline.RESTORATION: Step.RESTORE_AFTER_FORWARDING,
    Deadline.IDENTIFICATION: Step.LAPSE_IDENTIFICATION,
}
"""What passing each deadline does, as a step of the table. A missed review or forwarding
leaves the case where it is: the step is still owed, and the breach is on record; a lapsed
identification request leaves it where it is too, unanswered."""


class IllegalStep(DomainError):
    """A step the lifecycle table does not allow from the case's state."""

    def __init__(self, case_id: UUID, state: State, step: Step) -> None:
        allowed = sorted(s.value for (s, frm) in TRANSITIONS if frm is state)
        super().__init__(
            f"case {case_id} is {state.value}: cannot {step.value.replace('_', ' ')} "
            f"(allowed now: {', '.join(allowed) or 'nothing'})"
        )
        self.case_id, self.state, self.step = case_id, state, step
