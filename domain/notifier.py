"""Notifier: a rights holder, its IP rights, its trusted-lane standing and its misuse record."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import Field, StringConstraints

from domain.values import (
    Actor,
    ActorKind,
    AlreadyDone,
    AwareDatetime,
    DomainError,
    EventSourced,
    Frozen,
    RightType,
    Sha256,
    identifier,
    stable_id,
)


class NotifierKind(StrEnum):
    BRAND = "brand"
    AGENT = "agent"
    TRADE_ASSOCIATION = "trade_association"


class RightStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class Right(Frozen):
    """An IP right as registered; only a verified right may back a notice."""

    right_id: UUID
    right_type: RightType
    registration_number: str
    jurisdiction: str
    certificate_sha256: str
    status: RightStatus = RightStatus.PENDING
    rejection_reason: str | None = None


class NotifierError(DomainError):
    """A notifier command the notifier's state does not allow."""


def _given(text: str, what: str) -> str:
    """A name or number as a person gave it (NFC, no controls, something visible)."""
    try:
        return identifier(text, what)
    except ValueError as error:
        raise NotifierError(str(error)) from None


class NotifierAlreadyDone(NotifierError, AlreadyDone):
    """The notifier already stands where the command would put it, or already acted on its cause."""


Cause = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CAUSE = "the event a policy acted on (its ce_id); none when a person gave the command"


class ManagerTerm(Frozen):
    """One account manager's time with a notifier (not stored: its event is)."""

    manager: Actor
    assigned_at: datetime
    assigned_by: Actor


class Notifier(EventSourced):
    """A brand, agent or trade association that files notices."""

    def __init__(self, name: str, kind: NotifierKind, contact_email: str) -> None:
        self.name = name
        self.kind = kind
        self.contact_email = contact_email
        self.rights: dict[UUID, Right] = {}
        self.in_trusted_lane = False
        self.may_reapply_on: date | None = None
        self.warnings = 0
        self.warned_at: datetime | None = None
        """The warning not yet followed by a suspension, if any."""
        self.suspended_until: datetime | None = None
        self.causes: set[str] = set()
        """The events that policies have already acted on for this notifier."""
        self.account_manager: Actor | None = None
        """The platform's account manager for this notifier, if one was assigned."""
        self.managers: list[ManagerTerm] = []
        """Every account manager the notifier had, oldest first."""

    class Registered(EventSourced.Created):
        name: str = Field(min_length=1, max_length=200)
        kind: NotifierKind
        contact_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    class RightRegistered(EventSourced.Event):
        right_id: UUID
        right_type: RightType
        registration_number: str = Field(min_length=1, max_length=100)
        jurisdiction: str = Field(min_length=2, max_length=10)
        certificate_sha256: Sha256

        def apply(self, notifier: Notifier) -> None:
            notifier.rights[self.right_id] = Right(
                right_id=self.right_id,
                right_type=self.right_type,
                registration_number=self.registration_number,
                jurisdiction=self.jurisdiction,
                certificate_sha256=self.certificate_sha256,
            )

    class RightVerified(EventSourced.Event):
        right_id: UUID

        def apply(self, notifier: Notifier) -> None:
            right = notifier.rights[self.right_id]
            notifier.rights[self.right_id] = right.model_copy(
                update={"status": RightStatus.VERIFIED, "rejection_reason": None}
            )

    class RightRejected(EventSourced.Event):
        right_id: UUID
        reason: str = Field(min_length=1, max_length=2000)

        def apply(self, notifier: Notifier) -> None:
            right = notifier.rights[self.right_id]
            notifier.rights[self.right_id] = right.model_copy(
                update={"status": RightStatus.REJECTED, "rejection_reason": self.reason}
            )

    class AdmittedToTrustedLane(EventSourced.Event):
        takedown_share: float = Field(ge=0, le=1)
        reversal_share: float = Field(ge=0, le=1)
        notices_considered: int = Field(ge=0)
        cause: Cause | None = Field(None, description=CAUSE)

        def apply(self, notifier: Notifier) -> None:
            notifier.in_trusted_lane = True
            notifier.may_reapply_on = None
            notifier.remember(self.cause)

    class ManuallyAdmittedToTrustedLane(EventSourced.Event):
        """A supervisor's admission by judgement, not on the figures: recorded as manual, with
        the reason for it."""

        reason: str = Field(min_length=1, max_length=2000)

        def apply(self, notifier: Notifier) -> None:
            notifier.in_trusted_lane = True
            notifier.may_reapply_on = None

    class RemovedFromTrustedLane(EventSourced.Event):
        reason: str = Field(min_length=1, max_length=2000)
        may_reapply_on: date
        cause: Cause | None = Field(None, description=CAUSE)

        def apply(self, notifier: Notifier) -> None:
            notifier.in_trusted_lane = False
            notifier.may_reapply_on = self.may_reapply_on
            notifier.remember(self.cause)

    class WarnedForMisuse(EventSourced.Event):
        reason: str = Field(min_length=1, max_length=2000)
        unfounded_share: float = Field(ge=0, le=1)
        cause: Cause | None = Field(None, description=CAUSE)

        def apply(self, notifier: Notifier) -> None:
            notifier.warnings += 1
            notifier.warned_at = self.timestamp
            notifier.remember(self.cause)

    class Suspended(EventSourced.Event):
        reason: str = Field(min_length=1, max_length=2000)
        until: AwareDatetime
        cause: Cause | None = Field(None, description=CAUSE)

        def apply(self, notifier: Notifier) -> None:
            notifier.suspended_until = self.until
            notifier.in_trusted_lane = False
            notifier.warned_at = None
            notifier.remember(self.cause)

    class AccountManagerAssigned(EventSourced.Event):
        """A supervisor made a platform account manager this notifier's manager."""

        manager: Actor
        previous: Actor | None = None

        def apply(self, notifier: Notifier) -> None:
            notifier.account_manager = self.manager
            notifier.managers.append(
                ManagerTerm(
                    manager=self.manager, assigned_at=self.timestamp, assigned_by=self.actor
                )
            )

    @classmethod
    def register(
        cls,
        name: str,
        kind: NotifierKind,
        contact_email: str,
        actor: Actor,
        at: datetime,
        notifier_id: UUID | None = None,
    ) -> Notifier:
        """Register a notifier; its rights come afterwards. A chosen id must be a random
        (version 4) UUID: ntd derives every other aggregate's id as a version 5 one, so a chosen
        id can never take the place of a seller, a principal or a case yet to come."""
        if notifier_id is not None and notifier_id.version != 4:
            raise NotifierError(
                f"notifier id {notifier_id} is a version {notifier_id.version} UUID; "
                "choose a random (version 4) one, e.g. from uuidgen -r"
            )
        name = _given(name, "the notifier's name")
        return cls.start(
            cls.Registered,
            notifier_id or uuid4(),
            actor,
            at,
            name=name,
            kind=kind,
            contact_email=contact_email,
        )

    @staticmethod
    def right_id_for(
        notifier_id: UUID, right_type: RightType, number: str, where: str, submission: int = 0
    ) -> UUID:
        """The same right registered twice by one notifier has one id; each submission made
        after a rejection is a new right, with an id of its own (the first keeps the old id)."""
        parts = ("right", str(notifier_id), right_type.value, number, where.upper())
        return stable_id(*parts, str(submission)) if submission else stable_id(*parts)

    def register_right(
        self,
        right_type: RightType,
        registration_number: str,
        jurisdiction: str,
        certificate_sha256: str,
        actor: Actor,
        at: datetime,
    ) -> UUID:
        """Record a right awaiting verification; returns its id. A right already registered is
        refused unless every earlier submission of it was rejected: then this is a new
        submission, a new right with an id of its own (a rejected right stays rejected)."""
        registration_number = _given(registration_number, "registration number")
        jurisdiction = _given(jurisdiction, "jurisdiction")
        # By what it is, not by id: one registered before ids were collision-free may hold its
        # former id (values.former_id).
        what = (right_type, registration_number, jurisdiction.upper())
        earlier = [
            right
            for right in self.rights.values()
            if (right.right_type, right.registration_number, right.jurisdiction) == what
        ]
        for right in earlier:
            if right.status is not RightStatus.REJECTED:
                raise NotifierError(
                    f"notifier {self.id} already registered {right_type.value} "
                    f"{registration_number} in {jurisdiction.upper()} as right {right.right_id}"
                )
        right_id = self.right_id_for(
            self.id, right_type, registration_number, jurisdiction, len(earlier)
        )
        self.record(
            self.RightRegistered,
            actor,
            at,
            right_id=right_id,
            right_type=right_type,
            registration_number=registration_number,
            jurisdiction=jurisdiction.upper(),
            certificate_sha256=certificate_sha256.lower(),
        )
        return right_id

    def verify_right(self, right_id: UUID, actor: Actor, at: datetime) -> None:
        """Mark a right verified so it can back notices. A rejected right stays rejected: what
        the notifier sends after a rejection is a new submission, registered as a new right."""
        right = self.right(right_id)
        if right.status is RightStatus.VERIFIED:
            raise NotifierError(f"right {right_id} of notifier {self.id} is already verified")
        self._not_rejected(right)
        self.record(self.RightVerified, actor, at, right_id=right_id)

    def reject_right(self, right_id: UUID, reason: str, actor: Actor, at: datetime) -> None:
        """Refuse a right, with the reason the notifier will see; once only."""
        self._not_rejected(self.right(right_id))
        self.record(self.RightRejected, actor, at, right_id=right_id, reason=reason)

    def admit_to_trusted_lane(
        self,
        takedown_share: float,
        reversal_share: float,
        notices: int,
        actor: Actor,
        at: datetime,
        cause: str | None = None,
    ) -> None:
        """Admit to the Good Faith Takedown lane on the figures given."""
        self._not_yet_acted_on(cause)
        self._may_enter_lane(at)
        self.record(
            self.AdmittedToTrustedLane,
            actor,
            at,
            takedown_share=takedown_share,
            reversal_share=reversal_share,
            notices_considered=notices,
            cause=cause,
        )

    def admit_manually(self, reason: str, actor: Actor, at: datetime) -> None:
        """A supervisor admits the notifier to the lane by judgement, with the reason; the
        figures are not asked, the lane's other guards are (re-apply date, suspension)."""
        self._may_enter_lane(at)
        self.record(self.ManuallyAdmittedToTrustedLane, actor, at, reason=reason)

    def remove_from_trusted_lane(
        self,
        reason: str,
        may_reapply_on: date,
        actor: Actor,
        at: datetime,
        cause: str | None = None,
    ) -> None:
        """Take the notifier out of the fast lane; it may re-apply on the given day."""
        self._not_yet_acted_on(cause)
        if not self.in_trusted_lane:
            raise NotifierAlreadyDone(f"notifier {self.id} is not in the trusted lane")
        self.record(
            self.RemovedFromTrustedLane,
            actor,
            at,
            reason=reason,
            may_reapply_on=may_reapply_on,
            cause=cause,
        )

    def warn_for_misuse(
        self,
        reason: str,
        unfounded_share: float,
        actor: Actor,
        at: datetime,
        cause: str | None = None,
    ) -> None:
        """Warn for manifestly unfounded notices (DSA Art. 23)."""
        self._not_yet_acted_on(cause)
        self.record(
            self.WarnedForMisuse,
            actor,
            at,
            reason=reason,
            unfounded_share=unfounded_share,
            cause=cause,
        )

    def suspend(
        self, reason: str, until: datetime, actor: Actor, at: datetime, cause: str | None = None
    ) -> None:
        """Suspend filing until the given time; only after a warning (DSA Art. 23)."""
        self._not_yet_acted_on(cause)
        if self.warnings == 0:
            raise NotifierError(f"notifier {self.id} must be warned before it is suspended")
        if until <= at:
            raise NotifierError("a suspension must end after it starts")
        self.record(self.Suspended, actor, at, reason=reason, until=until, cause=cause)

    def assign_manager(self, manager: Actor, actor: Actor, at: datetime) -> None:
        """Make a member of the platform's staff the notifier's account manager, in place of
        any earlier one (who stays in the history)."""
        if manager.kind is not ActorKind.AGENT:
            raise NotifierError(f"an account manager is platform staff (agent:ID), not {manager}")
        manager = manager.principal
        if self.account_manager == manager:
            raise NotifierAlreadyDone(f"{manager} is already the account manager of {self.id}")
        self.record(
            self.AccountManagerAssigned, actor, at, manager=manager, previous=self.account_manager
        )

    def right(self, right_id: UUID) -> Right:
        """The notifier's right with this id, or a clear error."""
        try:
            return self.rights[right_id]
        except KeyError:
            raise NotifierError(f"notifier {self.id} has no right {right_id}") from None

    def is_suspended(self, at: datetime) -> bool:
        """True while a suspension runs."""
        return self.suspended_until is not None and at < self.suspended_until

    def remember(self, cause: str | None) -> None:
        """Note that a policy acted on this cause (called from event bodies only)."""
        if cause is not None:
            self.causes.add(cause)

    def _may_enter_lane(self, at: datetime) -> None:
        """What any admission to the lane needs: not in it, past any re-apply date, and not
        suspended."""
        if self.in_trusted_lane:
            raise NotifierAlreadyDone(f"notifier {self.id} is already in the trusted lane")
        if self.may_reapply_on is not None and at.date() < self.may_reapply_on:
            raise NotifierError(
                f"notifier {self.id} may re-apply to the trusted lane on {self.may_reapply_on}"
            )
        if self.is_suspended(at):
            raise NotifierError(f"notifier {self.id} is suspended until {self.suspended_until}")

    def _not_rejected(self, right: Right) -> None:
        if right.status is RightStatus.REJECTED:
            raise NotifierError(
                f"right {right.right_id} of notifier {self.id} was rejected: "
                "a new submission is a new right"
            )

    def _not_yet_acted_on(self, cause: str | None) -> None:
        if cause is not None and cause in self.causes:
            raise NotifierAlreadyDone(f"notifier {self.id} was already acted on for event {cause}")
