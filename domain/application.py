"""The application service: one method per command; get, call, save. The store is the outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording, StoredEvent

from domain import filing
from domain.calendar import BusinessCalendar
from domain.case import Case, Deadline
from domain.figures import lane_verdict
from domain.filing import FilingReceipt
from domain.listing_claim import ListingClaim
from domain.notice import NoticeRefused, NoticeSubmission
from domain.notifier import Notifier, NotifierKind
from domain.rules import Rules
from domain.seller import Seller
from domain.values import (
    CATEGORY_KEYWORD,
    SYSTEM,
    Actor,
    AutomatedDecision,
    Clock,
    DecisionGround,
    DomainError,
    NotFound,
    RightType,
    StatementOfReasons,
    Visibility,
)

A = TypeVar("A", bound=Aggregate)
ATTEMPTS = 5


class BatchReader(Protocol):
    """Reads the stored events of many aggregates at once (a store adapter may provide it)."""

    def stored_events(self, aggregate_ids: Sequence[UUID]) -> Iterable[StoredEvent]: ...


class ConcurrencyConflict(DomainError):
    """Someone else kept changing the same aggregate; the command was not applied."""


class SystemClock:
    """The host's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class NtdApplication(Application[UUID]):
    """Commands of notice-and-takedown over event-sourced notifiers, cases, sellers and claims."""

    name = "ntd"
    env = {"MAPPER_TOPIC": "domain.mapping:PydanticMapper"}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Clock | None = None,
        calendar: BusinessCalendar | None = None,
        rules: Rules | None = None,
        batch_reader: BatchReader | None = None,
    ) -> None:
        super().__init__(env)
        self.batch_reader = batch_reader
        self.clock: Clock = clock or SystemClock()
        self.calendar = calendar or BusinessCalendar()
        self.rules = rules or Rules()

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, collecting our aggregates' events by class instead of through
        its runtime-Protocol isinstance checks, which cost some 27 µs per aggregate on Python
        3.11 (a sixth of filing a 300-listing notice). Anything else goes the library's way."""
        processing = ProcessingEvent[UUID]()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            else:
                processing.collect_events(obj)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's save does it too (deprecated there)
        return recordings

    # -- notifiers -----------------------------------------------------------------------------

    def register_notifier(
        self,
        name: str,
        kind: NotifierKind,
        contact_email: str,
        actor: Actor,
        notifier_id: UUID | None = None,
    ) -> UUID:
        """Register a brand, agent or trade association."""
        notifier = Notifier.register(
            name, kind, contact_email, actor, self.clock.now(), notifier_id
        )
        self._save_new(notifier, f"notifier {notifier.id} is already registered")
        return notifier.id

    def register_right(
        self,
        notifier_id: UUID,
        right_type: RightType,
        registration_number: str,
        jurisdiction: str,
        certificate_sha256: str,
        actor: Actor,
    ) -> UUID:
        """Record an IP right awaiting verification; returns the right's id."""
        result: list[UUID] = []

        def change(n: Notifier, now: datetime) -> None:
            result[:] = [
                n.register_right(
                    right_type, registration_number, jurisdiction, certificate_sha256, actor, now
                )
            ]

        self._change(Notifier, notifier_id, change)
        return result[0]

    def verify_right(self, notifier_id: UUID, right_id: UUID, actor: Actor) -> None:
        """An agent verified the right: it may now back notices."""
        self._change(Notifier, notifier_id, lambda n, now: n.verify_right(right_id, actor, now))

    def reject_right(self, notifier_id: UUID, right_id: UUID, reason: str, actor: Actor) -> None:
        """An agent refused the right."""
        self._change(
            Notifier, notifier_id, lambda n, now: n.reject_right(right_id, reason, actor, now)
        )

    def admit_to_trusted_lane(
        self,
        notifier_id: UUID,
        takedown_share: float,
        reversal_share: float,
        notices: int,
        actor: Actor = SYSTEM,
        cause: str | None = None,
    ) -> None:
        """Admit a notifier to Good Faith Takedown on the figures that justify it.

        `cause` names the event a policy acts on; the same cause is never acted on twice.
        """
        verdict = lane_verdict(notices, takedown_share, reversal_share, self.rules)
        if not verdict.qualifies:
            raise DomainError(
                f"notifier {notifier_id} does not qualify for the trusted lane: "
                + "; ".join(verdict.shortfalls)
            )
        self._change(
            Notifier,
            notifier_id,
            lambda n, now: n.admit_to_trusted_lane(
                takedown_share, reversal_share, notices, actor, now, cause
            ),
        )

    def remove_from_trusted_lane(
        self, notifier_id: UUID, reason: str, actor: Actor = SYSTEM, cause: str | None = None
    ) -> None:
        """Take a notifier out of the fast lane; it may re-apply after the policy period."""

        def change(n: Notifier, now: datetime) -> None:
            reapply = (now + timedelta(days=self.rules.trusted_reapply_days)).date()
            n.remove_from_trusted_lane(reason, reapply, actor, now, cause)

        self._change(Notifier, notifier_id, change)

    def warn_notifier(
        self,
        notifier_id: UUID,
        reason: str,
        unfounded_share: float,
        actor: Actor = SYSTEM,
        cause: str | None = None,
    ) -> None:
        """Warn a notifier for manifestly unfounded notices."""
        self._change(
            Notifier,
            notifier_id,
            lambda n, now: n.warn_for_misuse(reason, unfounded_share, actor, now, cause),
        )

    def suspend_notifier(
        self,
        notifier_id: UUID,
        reason: str,
        days: int | None = None,
        actor: Actor = SYSTEM,
        cause: str | None = None,
    ) -> None:
        """Suspend a warned notifier's filing for a period."""

        def change(n: Notifier, now: datetime) -> None:
            span = timedelta(days=self.rules.misuse_suspension_days if days is None else days)
            n.suspend(reason, now + span, actor, now, cause)

        self._change(Notifier, notifier_id, change)

    # -- filing --------------------------------------------------------------------------------

    def file_notice(self, submission: NoticeSubmission) -> FilingReceipt:
        """Open one case per listing, or point to the open case; all or nothing."""
        for _ in range(ATTEMPTS):
            now = self.clock.now()
            notifier, known = self._filing_state(submission)
            filing.check_notifier(submission, notifier, now, self.rules)
            receipt, pending = filing.open_cases(
                submission,
                notifier,
                known,
                now,
                partial(self._take_down_at_once, submission=submission, now=now),
            )
            try:
                if pending:
                    self.save(*pending)
            except IntegrityError:
                continue
            return receipt
        raise ConcurrencyConflict(f"notice by {submission.notifier_id} kept conflicting; retry")

    def _filing_state(self, submission: NoticeSubmission) -> tuple[Notifier, dict[UUID, Any]]:
        """The notifier, and the listings' claims and (for a client's notice id) cases that
        exist, read together: one query when the store has a batch reader."""
        loaded = self._load_many(filing.ids_to_read(submission))
        held = filing.cases_held_under_former_ids(submission, loaded)
        if held:
            loaded |= self._load_many(held)
        notifier = loaded.pop(submission.notifier_id, None)
        if not isinstance(notifier, Notifier):
            raise NoticeRefused([f"notifier_id: no notifier {submission.notifier_id}"])
        return notifier, loaded

    def _load_many(self, ids: Sequence[UUID]) -> dict[UUID, Any]:
        """The aggregates among `ids` that exist, folded from their stored events in one query
        when the store allows it (the library reads one aggregate a query)."""
        if self.batch_reader is None:
            found = {i: self._find(Aggregate, i) for i in ids}
            return {i: a for i, a in found.items() if a is not None}
        loaded: dict[UUID, Any] = {}
        for stored in self.batch_reader.stored_events(ids):
            event: Any = self.mapper.to_domain_event(stored)
            loaded[event.originator_id] = event.mutate(loaded.get(event.originator_id))
        return loaded

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

    def request_clarification(self, case_id: UUID, question: str, actor: Actor) -> Case:
        """Ask the notifier for what is missing; it has the clarification window to answer."""

        def change(case: Case, now: datetime) -> None:
            due = self.calendar.add_business_days(now, self.rules.clarification_days)
            case.request_clarification(question, due, actor, now)

        return self._change_case(case_id, change)

    def provide_clarification(self, case_id: UUID, answer: str, actor: Actor) -> Case:
        """The notifier answered: the case is back for review."""
        return self._change_case(
            case_id, lambda c, now: c.provide_clarification(answer, actor, now)
        )

    def take_down(self, case_id: UUID, reasons: StatementOfReasons, actor: Actor) -> Case:
        """Remove the listing and tell the seller, whose appeal window opens."""

        def change(case: Case, now: datetime) -> None:
            case.take_down(reasons, actor, now, review_by=None)
            self._notify_seller(case, now)

        return self._change_case(case_id, change)

    def decline(self, case_id: UUID, reasons: StatementOfReasons, actor: Actor) -> Case:
        """Refuse the notice for this listing."""
        return self._change_case(case_id, lambda c, now: c.decline(reasons, actor, now))

    def confirm_takedown(self, case_id: UUID, reasons: StatementOfReasons, actor: Actor) -> Case:
        """Post-hoc review of a fast-lane takedown: it stands."""
        return self._change_case(case_id, lambda c, now: c.confirm_takedown(reasons, actor, now))

    def reverse_takedown(self, case_id: UUID, reasons: StatementOfReasons, actor: Actor) -> Case:
        """Post-hoc review of a fast-lane takedown: undo it, reinstating the listing."""
        return self._change_case(case_id, lambda c, now: c.reverse_takedown(reasons, actor, now))

    def counter_notice(
        self, case_id: UUID, statement: str, consents_to_jurisdiction: bool, actor: Actor
    ) -> Case:
        """The seller appeals the takedown."""
        return self._change_case(
            case_id,
            lambda c, now: c.counter_notice(statement, consents_to_jurisdiction, actor, now),
        )

    def forward_to_notifier(self, case_id: UUID, actor: Actor) -> Case:
        """Send the counter-notice to the notifier; restoration follows unless litigation."""

        def change(case: Case, now: datetime) -> None:
            restore_on = self.calendar.add_business_days(now, self.rules.restoration_days)
            case.forward_to_notifier(restore_on, actor, now)

        return self._change_case(case_id, change)

    def report_litigation(self, case_id: UUID, court: str, reference: str, actor: Actor) -> Case:
        """The notifier sued: the listing stays down."""
        return self._change_case(
            case_id, lambda c, now: c.report_litigation(court, reference, actor, now)
        )

    def uphold_appeal(self, case_id: UUID, reasons: StatementOfReasons, actor: Actor) -> Case:
        """The counter-notice succeeds: reinstate the listing."""
        return self._change_case(case_id, lambda c, now: c.uphold_appeal(reasons, actor, now))

    def reject_appeal(self, case_id: UUID, reasons: StatementOfReasons, actor: Actor) -> Case:
        """The counter-notice fails: the takedown stands."""
        return self._change_case(case_id, lambda c, now: c.reject_appeal(reasons, actor, now))

    def withdraw(self, case_id: UUID, reason: str, actor: Actor) -> Case:
        """The notifier retracts."""
        return self._change_case(case_id, lambda c, now: c.withdraw(reason, actor, now))

    def close_case(self, case_id: UUID, reason: str, actor: Actor) -> Case:
        """Close a case for good."""
        return self._change_case(case_id, lambda c, now: c.close(reason, actor, now))

    def miss_deadline(self, case_id: UUID, deadline: Deadline, actor: Actor = SYSTEM) -> Case:
        """Record a passed deadline and apply its effect."""
        return self._change_case(case_id, lambda c, now: c.miss_deadline(deadline, actor, now))

    # -- sellers -------------------------------------------------------------------------------

    def record_strike(
        self,
        marketplace: str,
        seller_ref: str,
        case_id: UUID,
        actor: Actor = SYSTEM,
        upheld_at: datetime | None = None,
    ) -> UUID:
        """Count an upheld takedown against the seller (created on its first strike).

        The strike's lifetime runs from `upheld_at` (default now), when the takedown was upheld.
        """
        seller_id = Seller.id_for(marketplace, seller_ref)
        for _ in range(ATTEMPTS):
            now = self.clock.now()
            seller = self._find(Seller, seller_id) or Seller.register(
                marketplace, seller_ref, SYSTEM, now
            )
            expires = (upheld_at or now) + timedelta(days=self.rules.strike_lifetime_days)
            seller.record_strike(case_id, expires, actor, now)
            try:
                self.save(seller)
            except IntegrityError:
                continue
            return seller_id
        raise ConcurrencyConflict(f"seller {seller_ref} kept changing; retry")

    def remove_strike(
        self, seller_id: UUID, case_id: UUID, reason: str, actor: Actor = SYSTEM
    ) -> None:
        """Take a strike back (the seller's counter-notice succeeded)."""
        self._change(Seller, seller_id, lambda s, now: s.remove_strike(case_id, reason, actor, now))

    def suspend_seller(self, seller_id: UUID, reason: str, actor: Actor = SYSTEM) -> None:
        """Suspend a repeat infringer."""
        self._change(
            Seller,
            seller_id,
            lambda s, now: s.suspend(reason, actor, now, self.rules.strikes_to_suspend),
        )

    # -- queries -------------------------------------------------------------------------------

    def case(self, case_id: UUID, version: int | None = None) -> Case:
        """The case now, or as it stood at the given version."""
        case = self._get(Case, case_id, version)
        if version is not None and case.version != version:
            raise NotFound(f"case {case_id} has only {case.version} versions, not {version}")
        return case

    def case_as_of(self, case_id: UUID, moment: datetime) -> Case:
        """The case as it stood at a moment in time."""
        version = 0
        for event in self.case_events(case_id):
            if event.timestamp > moment:
                break
            version = event.originator_version
        if version == 0:
            raise NotFound(f"case {case_id} did not exist yet at {moment.isoformat()}")
        return self.case(case_id, version)

    def case_events(self, case_id: UUID) -> Sequence[Any]:
        """Every stored event of a case, oldest first."""
        events = list(self.events.get(case_id))
        if not events:
            raise NotFound(f"no case {case_id}")
        return events

    def notifier(self, notifier_id: UUID) -> Notifier:
        """A notifier by id."""
        return self._get(Notifier, notifier_id)

    def seller(self, seller_id: UUID) -> Seller:
        """A seller by id."""
        return self._get(Seller, seller_id)

    # -- plumbing ------------------------------------------------------------------------------

    def _get(self, kind: type[A], aggregate_id: UUID, version: int | None = None) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}") from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{aggregate_id} is a {type(aggregate).__name__}, not a {kind.__name__}")
        return aggregate

    def _find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        try:
            return self._get(kind, aggregate_id)
        except NotFound:
            return None

    def _change(
        self, kind: type[A], aggregate_id: UUID, command: Callable[[A, datetime], None]
    ) -> A:
        for _ in range(ATTEMPTS):
            aggregate = self._get(kind, aggregate_id)
            command(aggregate, self.clock.now())
            try:
                self.save(aggregate)
            except IntegrityError:
                continue
            return aggregate
        raise ConcurrencyConflict(
            f"{kind.__name__.lower()} {aggregate_id} kept changing under this command; retry"
        )

    def _change_case(self, case_id: UUID, command: Callable[[Case, datetime], None]) -> Case:
        """Change a case; when it resolves, free its listing for new notices in the same save."""
        for _ in range(ATTEMPTS):
            case = self._get(Case, case_id)
            now = self.clock.now()
            command(case, now)
            pending: list[Aggregate] = [case]
            if case.is_resolved:
                claim = self._listing_claim(case)
                claim.release(case.id, SYSTEM, now)
                pending.append(claim)
            try:
                self.save(*pending)
            except IntegrityError:
                continue
            return case
        raise ConcurrencyConflict(f"case {case_id} kept changing under this command; retry")

    def _listing_claim(self, case: Case) -> ListingClaim:
        """The claim of the case's listing. A case filed before ids were collision-free may be
        held by the claim under the former id (values.former_id), maybe opened for a colliding
        listing: the claim holding this very case is the one to release."""
        key = (case.notifier_id, case.listing.marketplace, case.listing.listing_id)
        claim_id, former = ListingClaim.id_for(*key), ListingClaim.former_id_for(*key)
        if former is None:
            return self._get(ListingClaim, claim_id)
        found = [c for i in (claim_id, former) if (c := self._find(ListingClaim, i)) is not None]
        if not found:
            raise NotFound(f"no listingclaim {claim_id}")
        holding = [c for c in found if c.open_case_id == case.id]
        return (holding or found)[0]

    def _save_new(self, aggregate: Aggregate, exists: str) -> None:
        try:
            self.save(aggregate)
        except IntegrityError:
            raise DomainError(exists) from None
