"""Case: one listing under one notice, from filing to closing; its lifecycle is the table in
domain/lifecycle.py."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Self
from uuid import UUID

from pydantic import Field, field_validator, model_validator

from domain.lifecycle import (
    DEADLINE_STEP,
    IDENTIFYING,
    RESOLVED,
    TRANSITIONS,
    Deadline,
    IllegalStep,
    State,
    Step,
)
from domain.values import (
    Actor,
    AwareDatetime,
    DomainError,
    DomainEvent,
    EventSourced,
    Frozen,
    RightType,
    Sha256,
    SourceType,
    StatementOfReasons,
    identifier,
)


class Lane(StrEnum):
    NORMAL = "normal"
    TRUSTED = "trusted"


class ReasonCode(StrEnum):
    COUNTERFEIT = "counterfeit"
    TRADEMARK_MISUSE = "trademark_misuse"
    COPYRIGHT_COPY = "copyright_copy"
    DESIGN_COPY = "design_copy"
    PATENT_INFRINGEMENT = "patent_infringement"
    GI_MISUSE = "gi_misuse"


class Evidence(Frozen):
    """One piece of evidence, referenced and hashed (the file itself stays with the notifier)."""

    kind: str = Field(min_length=1, max_length=50, examples=["test_buy", "photo"])
    reference: str = Field(min_length=1, max_length=500)
    sha256: Sha256


class Listing(Frozen):
    """The exact listing a case is about."""

    marketplace: str = Field(min_length=1, max_length=100)
    listing_id: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://\S+$")
    seller_id: str = Field(min_length=1, max_length=200)


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Contact(Frozen):
    """The notifier's name and contact, as DMCA 512(c)(3) and DSA Art. 16(2) require."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(json_schema_extra={"pattern": EMAIL.pattern})
    """Checked by `_an_address`, whose words a person reads (a pattern's would be the regex);
    the schema still carries the pattern for the contract's readers."""

    @field_validator("email")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if not EMAIL.fullmatch(value):
            raise ValueError("not an email address (e.g. legal@brand.example)")
        return value


class SwornStatement(Frozen):
    """What the notifier declared and who signed it (DSA Art. 16(2)(c)-(d), DMCA 512(c)(3)),
    kept in the `filed` event of every case the notice opened, so the case carries the sworn
    notice itself and not only what was decided on it. Stored whole; an export decides what to
    redact."""

    submitted_by: str = Field(min_length=1, max_length=200, description="the notifier's user")
    contact: Contact
    good_faith_statement: bool
    accuracy_statement: bool
    signature: str = Field(min_length=2, max_length=200)


class Authenticity(StrEnum):
    """The notifier's verdict on whether the listing's goods are its own."""

    COUNTERFEIT = "counterfeit"
    GENUINE = "genuine"
    CANNOT_TELL = "cannot_tell"


class ItemKind(StrEnum):
    """What an identification request asks the notifier to judge."""

    LISTING = "listing"
    TEST_BUY = "test_buy"
    PHOTO = "photo"
    DOCUMENT = "document"
    QUESTION = "question"


HASHED_ITEMS = frozenset({ItemKind.TEST_BUY, ItemKind.PHOTO, ItemKind.DOCUMENT})
"""Items that are files: named by their hash, the file itself stays with whoever holds it."""


class IdentificationItem(Frozen):
    """One thing the notifier is asked to judge; a file (test buy, photo, document) by hash."""

    kind: ItemKind
    reference: str = Field(min_length=1, max_length=500)
    sha256: Sha256 | None = None

    @model_validator(mode="after")
    def _files_are_hashed(self) -> Self:
        if self.kind in HASHED_ITEMS and self.sha256 is None:
            raise ValueError(f"a {self.kind.value} item needs the sha256 of its file")
        return self


class IdentificationCited(Frozen):
    """The notifier's answer to an identification request, as a decision cites it."""

    verdict: Authenticity
    basis: str = Field(min_length=1, max_length=5000)
    answered_at: AwareDatetime
    answered_by: Actor


class IdentificationRequest(Frozen):
    """An open identification request, as the case holds it (not stored: its event is)."""

    question: str
    items: tuple[IdentificationItem, ...]
    respond_by: datetime
    requested_at: datetime
    requested_by: Actor


class Message(Frozen):
    """One message of a case's conversation (not stored: its event is)."""

    author: Actor
    at: datetime
    text: str
    evidence: tuple[Evidence, ...]


MESSAGE_MAX = 4000
ALLOWED_CONTROLS = frozenset("\n\t")


def control_character(text: str) -> tuple[int, str] | None:
    """The first control character of the text other than newline and tab, with its position."""
    for position, char in enumerate(text):
        if (ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F) and char not in ALLOWED_CONTROLS:
            return position, char
    return None


CITED = Field(
    None,
    exclude_if=lambda cited: cited is None,  # events stored before identification keep bytes
    description="the notifier's latest identification answer on the case, if any",
)


class CaseError(DomainError):
    """A case command refused for a reason other than the lifecycle table."""


class Case(EventSourced):
    """A listing named in a notice, decided on its own."""

    def __init__(
        self,
        notice_id: UUID,
        notifier_id: UUID,
        right_id: UUID,
        right_type: RightType,
        listing: Listing,
        reason_code: ReasonCode,
        lane: Lane,
        source_type: SourceType,
        client_notice_id: UUID | None = None,
        sworn: SwornStatement | None = None,
    ) -> None:
        self.notice_id = notice_id
        self.client_notice_id = client_notice_id
        self.sworn = sworn
        self.notifier_id = notifier_id
        self.right_id = right_id
        self.right_type = right_type
        self.listing = listing
        self.reason_code = reason_code
        self.lane = lane
        self.source_type = source_type
        self.state = State.FILED
        self.deadlines: dict[Deadline, datetime] = {}
        self.missed: list[Deadline] = []
        self.reasons: StatementOfReasons | None = None
        self.taken_down_at: datetime | None = None
        self.counter_noticed = False
        self.litigation = False
        self.identification_request: IdentificationRequest | None = None
        """The open identification request, if any."""
        self.identification: IdentificationCited | None = None
        """The notifier's latest identification answer, if any."""
        self.messages: list[Message] = []

    # -- events: each only assigns -----------------------------------------------------------

    class Filed(EventSourced.Created):
        notice_id: UUID
        notifier_id: UUID
        right_id: UUID
        right_type: RightType
        listing: Listing
        reason_code: ReasonCode
        explanation: str = Field(min_length=1, max_length=5000)
        evidence: tuple[Evidence, ...] = Field(min_length=1)
        lane: Lane
        source_type: SourceType
        automated_detection: bool = False
        client_notice_id: UUID | None = None
        """The id the notifier gave the notice, if any; `notice_id` is scoped to the notifier."""
        sworn: SwornStatement | None = None
        """None in cases filed before the notice's sworn parts were kept."""

    class Transitioned(EventSourced.Event):
        """Base of the events that move a case through the table."""

        step: Step

        def apply(self, case: Case) -> None:
            case.state = TRANSITIONS[(self.step, case.state)]
            self.settle(case)
            if case.state not in IDENTIFYING:  # a step out of identification closes a request
                case.deadlines.pop(Deadline.IDENTIFICATION, None)
            if Deadline.IDENTIFICATION not in case.deadlines:
                case.identification_request = None

        def settle(self, case: Case) -> None:
            """Further assignments of a particular event."""

    class ClarificationRequested(Transitioned):
        step: Step = Step.REQUEST_CLARIFICATION
        question: str = Field(min_length=1, max_length=5000)
        respond_by: AwareDatetime

        def settle(self, case: Case) -> None:
            case.deadlines[Deadline.CLARIFICATION] = self.respond_by

    class ClarificationProvided(Transitioned):
        step: Step = Step.PROVIDE_CLARIFICATION
        answer: str = Field(min_length=1, max_length=5000)

        def settle(self, case: Case) -> None:
            case.deadlines.pop(Deadline.CLARIFICATION, None)

    class TakenDown(Transitioned):
        step: Step = Step.TAKE_DOWN
        lane: Lane
        reasons: StatementOfReasons
        identification: IdentificationCited | None = CITED
        review_by: AwareDatetime | None = None

        def settle(self, case: Case) -> None:
            case.reasons = self.reasons
            case.taken_down_at = self.timestamp
            if self.review_by is not None:
                case.deadlines[Deadline.REVIEW] = self.review_by

    class SellerNotified(Transitioned):
        step: Step = Step.NOTIFY_SELLER
        seller_id: str
        counter_notice_by: AwareDatetime

        def settle(self, case: Case) -> None:
            case.deadlines[Deadline.COUNTER_NOTICE] = self.counter_notice_by

    class Declined(Transitioned):
        step: Step = Step.DECLINE
        reasons: StatementOfReasons
        identification: IdentificationCited | None = CITED

        def settle(self, case: Case) -> None:
            case.reasons = self.reasons

    class TakedownConfirmed(Transitioned):
        step: Step = Step.CONFIRM_TAKEDOWN
        reasons: StatementOfReasons
        identification: IdentificationCited | None = CITED

        def settle(self, case: Case) -> None:
            case.reasons = self.reasons
            case.deadlines.pop(Deadline.REVIEW, None)

    class TakedownReversed(Transitioned):
        step: Step = Step.REVERSE_TAKEDOWN
        reasons: StatementOfReasons
        identification: IdentificationCited | None = CITED

        def settle(self, case: Case) -> None:
            case.reasons = self.reasons
            case.deadlines.clear()

    class CounterNoticed(Transitioned):
        step: Step = Step.COUNTER_NOTICE
        statement: str = Field(min_length=1, max_length=5000)
        consents_to_jurisdiction: bool
        forward_by: AwareDatetime | None = None
        """When the counter-notice must have gone to the notifier; None before that was kept."""

        def settle(self, case: Case) -> None:
            case.counter_noticed = True
            case.deadlines.pop(Deadline.COUNTER_NOTICE, None)
            case.deadlines.pop(Deadline.REVIEW, None)  # the appeal's reviewer decides instead
            if self.forward_by is not None:
                case.deadlines[Deadline.FORWARDING] = self.forward_by

    class ForwardedToNotifier(Transitioned):
        step: Step = Step.FORWARD_TO_NOTIFIER
        restore_on: AwareDatetime

        def settle(self, case: Case) -> None:
            case.deadlines.pop(Deadline.FORWARDING, None)
            case.deadlines[Deadline.RESTORATION] = self.restore_on

    class LitigationReported(Transitioned):
        step: Step = Step.REPORT_LITIGATION
        court: str = Field(min_length=1, max_length=500)
        reference: str = Field(min_length=1, max_length=200)

        def settle(self, case: Case) -> None:
            case.litigation = True
            case.deadlines.pop(Deadline.RESTORATION, None)

    class AppealUpheld(Transitioned):
        step: Step = Step.UPHOLD_APPEAL
        reasons: StatementOfReasons
        identification: IdentificationCited | None = CITED

        def settle(self, case: Case) -> None:
            case.reasons = self.reasons
            case.deadlines.clear()

    class AppealRejected(Transitioned):
        step: Step = Step.REJECT_APPEAL
        reasons: StatementOfReasons
        identification: IdentificationCited | None = CITED

        def settle(self, case: Case) -> None:
            case.reasons = self.reasons
            case.deadlines.clear()

    class Withdrawn(Transitioned):
        step: Step = Step.WITHDRAW
        reason: str = Field(min_length=1, max_length=2000)

        def settle(self, case: Case) -> None:
            case.deadlines.clear()

    class IdentificationRequested(Transitioned):
        """The platform asks the notifier whether the listing's goods are genuine."""

        step: Step = Step.REQUEST_IDENTIFICATION
        question: str = Field(min_length=1, max_length=2000)
        items: tuple[IdentificationItem, ...] = Field(max_length=20)
        respond_by: AwareDatetime

        def settle(self, case: Case) -> None:
            case.deadlines[Deadline.IDENTIFICATION] = self.respond_by
            case.identification_request = IdentificationRequest(
                question=self.question,
                items=self.items,
                respond_by=self.respond_by,
                requested_at=self.timestamp,
                requested_by=self.actor,
            )

    class IdentificationAnswered(Transitioned):
        """The notifier's verdict on the open request, with its basis."""

        step: Step = Step.ANSWER_IDENTIFICATION
        verdict: Authenticity
        basis: str = Field(min_length=1, max_length=5000)
        evidence: tuple[Evidence, ...] = Field(max_length=20)

        def settle(self, case: Case) -> None:
            case.deadlines.pop(Deadline.IDENTIFICATION, None)
            case.identification = IdentificationCited(
                verdict=self.verdict,
                basis=self.basis,
                answered_at=self.timestamp,
                answered_by=self.actor,
            )

    class MessagePosted(EventSourced.Event):
        """A message of the case's conversation between the notifier's side and the platform's
        staff; its author is the event's actor. Sellers never see it."""

        text: str = Field(min_length=1, max_length=MESSAGE_MAX)
        evidence: tuple[Evidence, ...] = Field(max_length=10)

        def apply(self, case: Case) -> None:
            case.messages.append(
                Message(
                    author=self.actor, at=self.timestamp, text=self.text, evidence=self.evidence
                )
            )

    class DeadlineMissed(Transitioned):
        deadline: Deadline
        due_at: AwareDatetime

        def settle(self, case: Case) -> None:
            case.deadlines.pop(self.deadline, None)
            case.missed.append(self.deadline)
            if case.state in RESOLVED:
                case.deadlines.clear()

    class Closed(Transitioned):
        step: Step = Step.CLOSE
        reason: str = Field(min_length=1, max_length=2000)

        def settle(self, case: Case) -> None:
            case.deadlines.clear()

    # -- commands: decide, then record ---------------------------------------------------------

    @classmethod
    def file(
        cls,
        case_id: UUID,
        notice_id: UUID,
        notifier_id: UUID,
        right_id: UUID,
        right_type: RightType,
        listing: Listing,
        reason_code: ReasonCode,
        explanation: str,
        evidence: tuple[Evidence, ...],
        lane: Lane,
        actor: Actor,
        at: datetime,
        automated_detection: bool = False,
        client_notice_id: UUID | None = None,
        sworn: SwornStatement | None = None,
    ) -> Case:
        """Open a case for one listing of an accepted notice, keeping what the notifier swore."""
        source = SourceType.TRUSTED_FLAGGER if lane is Lane.TRUSTED else SourceType.ARTICLE_16
        return cls.start(
            cls.Filed,
            case_id,
            actor,
            at,
            notice_id=notice_id,
            notifier_id=notifier_id,
            right_id=right_id,
            right_type=right_type,
            listing=listing,
            reason_code=reason_code,
            explanation=explanation,
            evidence=evidence,
            lane=lane,
            source_type=source,
            automated_detection=automated_detection,
            client_notice_id=client_notice_id,
            sworn=sworn,
        )

    def request_clarification(
        self, question: str, respond_by: datetime, actor: Actor, at: datetime
    ) -> None:
        """Ask the notifier for what the notice lacks; the case lapses if unanswered."""
        self._guard(Step.REQUEST_CLARIFICATION)
        self.record(
            self.ClarificationRequested, actor, at, question=question, respond_by=respond_by
        )

    def provide_clarification(self, answer: str, actor: Actor, at: datetime) -> None:
        """The notifier's answer returns the case to review."""
        self._guard(Step.PROVIDE_CLARIFICATION)
        self.record(self.ClarificationProvided, actor, at, answer=answer)

    def take_down(
        self,
        reasons: StatementOfReasons,
        actor: Actor,
        at: datetime,
        review_by: datetime | None,
        *,
        despite_genuine: bool = False,
    ) -> None:
        """Remove the listing; a trusted-lane removal (review_by given) awaits post-hoc review.
        After the notifier answered that the goods are genuine, only `despite_genuine`."""
        trusted = review_by is not None
        step = Step.TAKE_DOWN_TRUSTED if trusted else Step.TAKE_DOWN
        self._guard(step)
        self._weigh_identification("take it down", despite_genuine)
        self.record(
            self.TakenDown,
            actor,
            at,
            step=step,
            lane=Lane.TRUSTED if trusted else Lane.NORMAL,
            reasons=reasons,
            review_by=review_by,
            identification=self.identification,
        )

    def notify_seller(self, counter_notice_by: datetime, actor: Actor, at: datetime) -> None:
        """Send the decision and its reasons to the seller; the appeal window opens."""
        self._guard(Step.NOTIFY_SELLER)
        self.record(
            self.SellerNotified,
            actor,
            at,
            seller_id=self.listing.seller_id,
            counter_notice_by=counter_notice_by,
        )

    def decline(self, reasons: StatementOfReasons, actor: Actor, at: datetime) -> None:
        """Refuse the notice for this listing, with reasons the notifier will see."""
        self._guard(Step.DECLINE)
        self.record(self.Declined, actor, at, reasons=reasons, identification=self.identification)

    def confirm_takedown(
        self,
        reasons: StatementOfReasons,
        actor: Actor,
        at: datetime,
        *,
        despite_genuine: bool = False,
    ) -> None:
        """Post-hoc review agrees with a fast-lane removal (after a `genuine` answer, only
        `despite_genuine`)."""
        self._guard(Step.CONFIRM_TAKEDOWN)
        self._require_human(reasons, "confirm a takedown")
        self._weigh_identification("confirm its takedown", despite_genuine)
        self.record(
            self.TakedownConfirmed, actor, at, reasons=reasons, identification=self.identification
        )

    def reverse_takedown(self, reasons: StatementOfReasons, actor: Actor, at: datetime) -> None:
        """Post-hoc review undoes a fast-lane removal; the listing is reinstated."""
        self._guard(Step.REVERSE_TAKEDOWN)
        self._require_human(reasons, "reverse a takedown")
        self.record(
            self.TakedownReversed, actor, at, reasons=reasons, identification=self.identification
        )

    def counter_notice(
        self,
        statement: str,
        consents_to_jurisdiction: bool,
        actor: Actor,
        at: datetime,
        *,
        forward_by: datetime | None = None,
    ) -> None:
        """The seller appeals within the window; the platform owes the notifier the
        counter-notice by `forward_by` (its forwarding deadline)."""
        self._guard(Step.COUNTER_NOTICE)
        window = self.deadlines.get(Deadline.COUNTER_NOTICE)
        if window is None or at > window:
            closed = f"closed {window.isoformat()}" if window else "not open"
            raise CaseError(f"case {self.id}: the counter-notice window is {closed}")
        if forward_by is not None and forward_by <= at:
            due = forward_by.isoformat()
            raise CaseError(f"case {self.id}: forwarding due {due} must fall after the appeal")
        self.record(
            self.CounterNoticed,
            actor,
            at,
            statement=statement,
            consents_to_jurisdiction=consents_to_jurisdiction,
            forward_by=forward_by,
        )

    def forward_to_notifier(self, restore_on: datetime, actor: Actor, at: datetime) -> None:
        """Send the counter-notice to the notifier; the listing returns on `restore_on`."""
        self._guard(Step.FORWARD_TO_NOTIFIER)
        self.record(self.ForwardedToNotifier, actor, at, restore_on=restore_on)

    def report_litigation(self, court: str, reference: str, actor: Actor, at: datetime) -> None:
        """The notifier went to court: the listing stays down."""
        self._guard(Step.REPORT_LITIGATION)
        try:
            reference = identifier(reference, "the court's case reference")
        except ValueError as error:
            raise CaseError(f"case {self.id}: {error}") from None
        self.record(self.LitigationReported, actor, at, court=court, reference=reference)

    def uphold_appeal(self, reasons: StatementOfReasons, actor: Actor, at: datetime) -> None:
        """The seller was right: reinstate the listing."""
        self._guard(Step.UPHOLD_APPEAL)
        self._require_human(reasons, "uphold an appeal")
        self.record(
            self.AppealUpheld, actor, at, reasons=reasons, identification=self.identification
        )

    def reject_appeal(
        self,
        reasons: StatementOfReasons,
        actor: Actor,
        at: datetime,
        *,
        despite_genuine: bool = False,
    ) -> None:
        """The takedown stands (after a `genuine` answer, only `despite_genuine`)."""
        self._guard(Step.REJECT_APPEAL)
        self._require_human(reasons, "reject an appeal")
        self._weigh_identification("reject the appeal", despite_genuine)
        self.record(
            self.AppealRejected, actor, at, reasons=reasons, identification=self.identification
        )

    def withdraw(self, reason: str, actor: Actor, at: datetime) -> None:
        """The notifier retracts the notice for this listing."""
        self._guard(Step.WITHDRAW)
        self.record(self.Withdrawn, actor, at, reason=reason)

    def request_identification(
        self,
        question: str,
        items: tuple[IdentificationItem, ...],
        respond_by: datetime,
        actor: Actor,
        at: datetime,
    ) -> None:
        """Ask the notifier whether the listing's goods are genuine, naming what to judge; the
        request lapses at `respond_by` unless answered. One request is open at a time."""
        self._guard(Step.REQUEST_IDENTIFICATION)
        open_until = self.deadlines.get(Deadline.IDENTIFICATION)
        if open_until is not None:
            raise CaseError(
                f"case {self.id} already has an identification request open until "
                f"{open_until.isoformat()}; wait for its answer or its lapse"
            )
        if respond_by <= at:
            raise CaseError(f"case {self.id}: the answer must be due after the request")
        self.record(
            self.IdentificationRequested,
            actor,
            at,
            question=question,
            items=items,
            respond_by=respond_by,
        )

    def answer_identification(
        self,
        verdict: Authenticity,
        basis: str,
        evidence: tuple[Evidence, ...],
        actor: Actor,
        at: datetime,
    ) -> None:
        """The notifier's verdict on the open request; the decision that follows cites it."""
        self._guard(Step.ANSWER_IDENTIFICATION)
        if Deadline.IDENTIFICATION not in self.deadlines:
            raise CaseError(f"case {self.id} has no open identification request to answer")
        self.record(
            self.IdentificationAnswered, actor, at, verdict=verdict, basis=basis, evidence=evidence
        )

    def post_message(
        self, text: str, evidence: tuple[Evidence, ...], actor: Actor, at: datetime
    ) -> None:
        """Add a message to the case's conversation; any time before the case is closed."""
        if self.state is State.CLOSED:
            raise CaseError(f"case {self.id} is closed: its conversation takes no more messages")
        found = control_character(text)
        if found is not None:
            position, char = found
            raise CaseError(
                f"a message may not hold control characters: U+{ord(char):04X} at position "
                f"{position} (newlines and tabs are fine)"
            )
        self.record(self.MessagePosted, actor, at, text=text, evidence=evidence)

    def miss_deadline(self, deadline: Deadline, actor: Actor, at: datetime) -> None:
        """Record that an open deadline passed, with the effect the table gives it."""
        step = DEADLINE_STEP[deadline]
        self._guard(step)
        due = self.deadlines.get(deadline)
        if due is None:
            raise CaseError(f"case {self.id} has no open {deadline.value} deadline")
        if at < due:
            raise CaseError(
                f"case {self.id}: the {deadline.value} deadline is not due until {due.isoformat()}"
            )
        self.record(self.DeadlineMissed, actor, at, step=step, deadline=deadline, due_at=due)

    def close(self, reason: str, actor: Actor, at: datetime) -> None:
        """Close the case for good."""
        self._guard(Step.CLOSE)
        self.record(self.Closed, actor, at, reason=reason)

    # -- queries -------------------------------------------------------------------------------

    @property
    def is_resolved(self) -> bool:
        """True when a new notice about the listing may open a new case."""
        return self.state in RESOLVED

    def due_deadlines(self, at: datetime) -> list[Deadline]:
        """Open deadlines that have passed at the given time."""
        return [kind for kind, due in self.deadlines.items() if due <= at]

    def _guard(self, step: Step) -> None:
        if (step, self.state) not in TRANSITIONS:
            raise IllegalStep(self.id, self.state, step)

    def _weigh_identification(self, what: str, despite_genuine: bool) -> None:
        """A `genuine` answer from the notifier weighs against keeping the listing down: only an
        explicit decision against it may, and the decision event cites the answer."""
        answer = self.identification
        if answer is None or answer.verdict is not Authenticity.GENUINE or despite_genuine:
            return
        raise CaseError(
            f"case {self.id}: {answer.answered_by.principal} answered on "
            f"{answer.answered_at.isoformat(timespec='seconds')} that the goods are genuine; "
            f"to {what} anyway, "
            "decide so explicitly (--despite-genuine) and say why in the facts"
        )

    def _require_human(self, reasons: StatementOfReasons, what: str) -> None:
        if reasons.automated_decision is not reasons.automated_decision.NOT_AUTOMATED:
            raise CaseError(f"case {self.id}: a reviewer must {what}; it may not be automated")


def reinstates(event: DomainEvent) -> bool:
    """Whether the event puts a taken-down listing back: a reversal on review, an upheld
    appeal, or the restoration deadline passing after the seller's counter-notice. The one
    place this is decided; the policies' strikes and figures and the read models ask it."""
    return isinstance(event, Case.TakedownReversed | Case.AppealUpheld) or (
        isinstance(event, Case.DeadlineMissed) and event.deadline is Deadline.RESTORATION
    )
