"""Commands on cases: filing a notice, every decision of the lifecycle, and reading a case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain import filing
from domain.access import Grant
from domain.case import Authenticity, Case, Deadline, Evidence, IdentificationItem
from domain.filing import FilingReceipt
from domain.notice import NoticeRefused, NoticeSubmission
from domain.notifier import Notifier
from domain.permissions import Forbidden, Target, allowed
from domain.service import (
    ATTEMPTS,
    ConcurrencyConflict,
    Service,
    grants_in,
    principal_ids,
    target_of,
)
from domain.values import (
    CATEGORY_KEYWORD,
    SYSTEM,
    Actor,
    AutomatedDecision,
    DecisionGround,
    NotFound,
    StatementOfReasons,
    Visibility,
)


class CaseService(Service):
    """Notices and cases."""

    # -- filing --------------------------------------------------------------------------------

    def file_notice(self, submission: NoticeSubmission, actor: Actor) -> FilingReceipt:
        """Open one case per listing, or point to the open case; all or nothing."""
        notifier_id = submission.notifier_id
        target = Target(f"notifier {notifier_id}", notifier_id=notifier_id)
        for _ in range(ATTEMPTS):
            now = self.clock.now()
            held, notifier, known = self._filing_state(submission, actor)
            allowed("file_notice", actor, held)  # refused alike, whatever notifier it names
            try:
                by = actor.principal.acting_as(allowed("file_notice", actor, held, target))
            except NotFound:
                raise NoticeRefused([f"notifier_id: no notifier {notifier_id}"]) from None
            if notifier is None:
                raise NoticeRefused([f"notifier_id: no notifier {notifier_id}"])
            if submission.submitted_by != actor.id:
                problem = f"the notice names {submission.submitted_by!r}, but {actor} files it"
                raise NoticeRefused([f"submitted_by: {problem}"])
            filing.check_notifier(submission, notifier, now, self.rules)
            receipt, pending = filing.open_cases(
                submission,
                notifier,
                known,
                now,
                partial(self._take_down_at_once, submission=submission, now=now),
                by,
            )
            try:
                if pending:
                    self.save(*pending)
            except IntegrityError:
                continue
            return receipt
        raise ConcurrencyConflict(f"notice by {submission.notifier_id} kept conflicting; retry")

    def _filing_state(
        self, submission: NoticeSubmission, actor: Actor
    ) -> tuple[list[Grant], Notifier | None, dict[UUID, Any]]:
        """The filer's grants, the notifier, and the listings' claims and (for a client's notice
        id) cases that exist, read together: one query when the store has a batch reader."""
        loaded = self._load_many([*principal_ids(actor), *filing.ids_to_read(submission)])
        held = grants_in(actor, loaded)
        former = filing.cases_held_under_former_ids(submission, loaded)
        if former:
            loaded |= self._load_many(former)
        notifier = loaded.pop(submission.notifier_id, None)
        return held, notifier if isinstance(notifier, Notifier) else None, loaded

    def _take_down_at_once(self, case: Case, submission: NoticeSubmission, now: datetime) -> None:
        reasons = StatementOfReasons(
            ground=DecisionGround.ILLEGAL_CONTENT,
            legal_ground=f"{CATEGORY_KEYWORD[case.right_type]} (Good Faith Takedown)",
            facts=submission.explanation,
            visibility=(Visibility.CONTENT_DISABLED,),
            automated_detection=submission.automated_detection,
            automated_decision=AutomatedDecision.FULLY,
        )
        review_by = self.calendar.add_business_days(now, self.rules.trusted_review_days)
        case.take_down(reasons, SYSTEM, now, review_by=review_by)
        self._notify_seller(case, now)

    def _notify_seller(self, case: Case, now: datetime) -> None:
        window = self.calendar.add_business_days(now, self.rules.counter_notice_days)
        case.notify_seller(window, SYSTEM, now)

    # -- deciding cases ------------------------------------------------------------------------

    def request_clarification(
        self,
        case_id: UUID,
        question: str,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """Ask the notifier for what is missing; it has the clarification window to answer."""

        def change(case: Case, now: datetime, by: Actor) -> None:
            due = self.calendar.add_business_days(now, self.rules.clarification_days)
            case.request_clarification(question, due, by, now)

        return self._change_case(
            "request_clarification", case_id, actor, change, expected=expected_version
        )

    def provide_clarification(
        self,
        case_id: UUID,
        answer: str,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """The notifier answered: the case is back for review."""
        return self._change_case(
            "provide_clarification",
            case_id,
            actor,
            lambda c, now, by: c.provide_clarification(answer, by, now),
            expected=expected_version,
        )

    def take_down(
        self,
        case_id: UUID,
        reasons: StatementOfReasons,
        actor: Actor,
        *,
        despite_genuine: bool = False,
        expected_version: int | None = None,
    ) -> Case:
        """Remove the listing and tell the seller, whose appeal window opens. After the
        notifier answered `genuine`, only `despite_genuine`."""

        def change(case: Case, now: datetime, by: Actor) -> None:
            case.take_down(reasons, by, now, review_by=None, despite_genuine=despite_genuine)
            self._notify_seller(case, now)

        return self._change_case("take_down", case_id, actor, change, expected=expected_version)

    def decline(
        self,
        case_id: UUID,
        reasons: StatementOfReasons,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """Refuse the notice for this listing."""
        return self._change_case(
            "decline",
            case_id,
            actor,
            lambda c, now, by: c.decline(reasons, by, now),
            expected=expected_version,
        )

    def confirm_takedown(
        self,
        case_id: UUID,
        reasons: StatementOfReasons,
        actor: Actor,
        *,
        despite_genuine: bool = False,
        expected_version: int | None = None,
    ) -> Case:
        """Post-hoc review of a fast-lane takedown: it stands (after a `genuine` answer, only
        `despite_genuine`)."""
        return self._change_case(
            "confirm_takedown",
            case_id,
            actor,
            lambda c, now, by: c.confirm_takedown(
                reasons, by, now, despite_genuine=despite_genuine
            ),
            expected=expected_version,
        )

    def reverse_takedown(
        self,
        case_id: UUID,
        reasons: StatementOfReasons,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """Post-hoc review of a fast-lane takedown: undo it, reinstating the listing."""
        return self._change_case(
            "reverse_takedown",
            case_id,
            actor,
            lambda c, now, by: c.reverse_takedown(reasons, by, now),
            expected=expected_version,
        )

    def counter_notice(
        self,
        case_id: UUID,
        statement: str,
        consents_to_jurisdiction: bool,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """The seller appeals the takedown; the counter-notice is owed to the notifier within
        the forwarding deadline."""

        def change(case: Case, now: datetime, by: Actor) -> None:
            forward_by = self.calendar.add_business_days(now, self.rules.forwarding_days)
            case.counter_notice(statement, consents_to_jurisdiction, by, now, forward_by=forward_by)

        return self._change_case(
            "counter_notice", case_id, actor, change, expected=expected_version
        )

    def forward_to_notifier(
        self,
        case_id: UUID,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """Send the counter-notice to the notifier; restoration follows unless litigation."""

        def change(case: Case, now: datetime, by: Actor) -> None:
            restore_on = self.calendar.add_business_days(now, self.rules.restoration_days)
            case.forward_to_notifier(restore_on, by, now)

        return self._change_case(
            "forward_to_notifier", case_id, actor, change, expected=expected_version
        )

    def report_litigation(
        self,
        case_id: UUID,
        court: str,
        reference: str,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """The notifier sued: the listing stays down."""
        return self._change_case(
            "report_litigation",
            case_id,
            actor,
            lambda c, now, by: c.report_litigation(court, reference, by, now),
            expected=expected_version,
        )

    def uphold_appeal(
        self,
        case_id: UUID,
        reasons: StatementOfReasons,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """The counter-notice succeeds: reinstate the listing."""
        return self._change_case(
            "uphold_appeal",
            case_id,
            actor,
            lambda c, now, by: c.uphold_appeal(reasons, by, now),
            expected=expected_version,
        )

    def reject_appeal(
        self,
        case_id: UUID,
        reasons: StatementOfReasons,
        actor: Actor,
        *,
        despite_genuine: bool = False,
        expected_version: int | None = None,
    ) -> Case:
        """The counter-notice fails: the takedown stands (after a `genuine` answer, only
        `despite_genuine`)."""
        return self._change_case(
            "reject_appeal",
            case_id,
            actor,
            lambda c, now, by: c.reject_appeal(reasons, by, now, despite_genuine=despite_genuine),
            expected=expected_version,
        )

    def withdraw(
        self,
        case_id: UUID,
        reason: str,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """The notifier retracts."""
        return self._change_case(
            "withdraw",
            case_id,
            actor,
            lambda c, now, by: c.withdraw(reason, by, now),
            expected=expected_version,
        )

    def close_case(
        self,
        case_id: UUID,
        reason: str,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """Close a case for good."""
        return self._change_case(
            "close_case",
            case_id,
            actor,
            lambda c, now, by: c.close(reason, by, now),
            expected=expected_version,
        )

    # -- Joint-Force collaboration ---------------------------------------------------------------

    def request_identification(
        self,
        case_id: UUID,
        question: str,
        items: Sequence[IdentificationItem],
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """Ask the notifier whether the listing's goods are genuine; it has the identification
        window (business days) to answer, or the request lapses."""

        def change(case: Case, now: datetime, by: Actor) -> None:
            due = self.calendar.add_business_days(now, self.rules.identification_days)
            case.request_identification(question, tuple(items), due, by, now)

        return self._change_case(
            "request_identification", case_id, actor, change, expected=expected_version
        )

    def answer_identification(
        self,
        case_id: UUID,
        verdict: Authenticity,
        basis: str,
        evidence: Sequence[Evidence],
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """The notifier's verdict (counterfeit, genuine, cannot tell) on the open request."""
        return self._change_case(
            "answer_identification",
            case_id,
            actor,
            lambda c, now, by: c.answer_identification(verdict, basis, tuple(evidence), by, now),
            expected=expected_version,
        )

    def post_message(
        self,
        case_id: UUID,
        text: str,
        evidence: Sequence[Evidence],
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Case:
        """Add a message to the case's conversation between the notifier's side and the staff."""
        return self._change_case(
            "post_message",
            case_id,
            actor,
            lambda c, now, by: c.post_message(text, tuple(evidence), by, now),
            expected=expected_version,
        )

    def _may_read_conversation(self, viewer: Actor, target: Target) -> bool:
        """Whether the viewer may read the conversation of a case with these parties (the
        notifier's side and the staff; sellers never may)."""
        try:
            self._authorize("read_conversations", viewer, target)
        except (Forbidden, NotFound):
            return False
        return True

    def miss_deadline(self, case_id: UUID, deadline: Deadline, actor: Actor = SYSTEM) -> Case:
        """Record a passed deadline and apply its effect."""
        return self._change_case(
            "miss_deadline",
            case_id,
            actor,
            lambda c, now, by: c.miss_deadline(deadline, by, now),
        )

    def case(self, case_id: UUID, viewer: Actor, version: int | None = None) -> Case:
        """The case now, or as it stood at the given version; its conversation only for a
        viewer who may read it (never a seller)."""
        scoped = self._scoped("case", viewer)
        case = self._get(Case, case_id, version)
        scoped(target_of(case))  # before saying anything about its versions
        if version is not None and case.version != version:
            raise NotFound(f"case {case_id} has only {case.version} versions, not {version}")
        if not self._may_read_conversation(viewer, target_of(case)):
            case.messages.clear()  # this copy is the viewer's: folded for this call, never saved
        return case

    def case_as_of(self, case_id: UUID, moment: datetime, viewer: Actor) -> Case:
        """The case as it stood at a moment in time."""
        version = 0
        for event in self.case_events(case_id, viewer):
            if event.timestamp > moment:
                break
            version = event.originator_version
        if version == 0:
            raise NotFound(f"case {case_id} did not exist yet at {moment.isoformat()}")
        return self.case(case_id, viewer, version)

    def case_events(self, case_id: UUID, viewer: Actor) -> Sequence[Any]:
        """Every stored event of a case, oldest first; its messages only for a viewer who may
        read the conversation (never a seller)."""
        scoped = self._scoped("case_events", viewer)
        events = list(self.events.get(case_id))
        if not events or not isinstance(events[0], Case.Filed):
            raise NotFound(f"no case {case_id}")
        target = target_of(events[0])
        scoped(target)
        if not self._may_read_conversation(viewer, target):
            events = [e for e in events if not isinstance(e, Case.MessagePosted)]
        return events
