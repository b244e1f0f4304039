"""Seller: the owner of listings, with its strikes (repeat-infringer policy) and suspension."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from domain.notifier import CAUSE, Cause
from domain.values import (
    Actor,
    AlreadyDone,
    AwareDatetime,
    DomainError,
    EventSourced,
    Frozen,
    stable_id,
)


class Strike(Frozen):
    """One final takedown against the seller, live until it expires or is removed."""

    case_id: UUID
    notice_id: UUID | None = None
    """The notice the case came from; None for strikes recorded before strikes named it."""
    recorded_at: AwareDatetime
    expires_at: AwareDatetime


class SellerError(DomainError):
    """A seller command the seller's state does not allow."""


class SellerAlreadyDone(SellerError, AlreadyDone):
    """The strike or its removal is already on the seller's record, the seller is not suspended
    (for a lifting), or the seller already acted on the command's cause."""


class Seller(EventSourced):
    """A marketplace seller, known to ntd from the first case about one of its listings."""

    def __init__(self, marketplace: str, seller_ref: str) -> None:
        self.marketplace = marketplace
        self.seller_ref = seller_ref
        self.strikes: dict[UUID, Strike] = {}
        """Strikes not removed, expired ones included, by case."""
        self.struck: set[UUID] = set()
        """Every case that ever gave a strike: a case gives at most one, even once removed."""
        self.suspended = False
        """A suspension was recorded and not lifted (it may have run out: see is_suspended)."""
        self.suspended_until: datetime | None = None
        """When the suspension runs out; None while suspended: indefinite (recorded before
        suspensions had a term)."""
        self.suspension: str | None = None
        """The key of the last suspension (`suspension_key`), which a lifting names."""
        self.causes: set[str] = set()
        """The events that policies have already acted on for this seller."""

    class Registered(EventSourced.Created):
        marketplace: str = Field(min_length=1, max_length=100)
        seller_ref: str = Field(min_length=1, max_length=200)

    class StrikeRecorded(EventSourced.Event):
        case_id: UUID
        expires_at: AwareDatetime
        notice_id: UUID | None = Field(
            None, description="the notice of the case; none on strikes recorded before"
        )

        def apply(self, seller: Seller) -> None:
            seller.strikes[self.case_id] = Strike(
                case_id=self.case_id,
                notice_id=self.notice_id,
                recorded_at=self.timestamp,
                expires_at=self.expires_at,
            )
            seller.struck.add(self.case_id)

    class StrikeRemoved(EventSourced.Event):
        case_id: UUID
        reason: str = Field(min_length=1, max_length=2000)

        def apply(self, seller: Seller) -> None:
            del seller.strikes[self.case_id]

    class Suspended(EventSourced.Event):
        reason: str = Field(min_length=1, max_length=2000)
        live_strikes: int = Field(ge=0)
        until: AwareDatetime | None = Field(
            None, description="when the suspension ends; none: indefinite (recorded before terms)"
        )
        cause: Cause | None = Field(None, description=CAUSE)

        def apply(self, seller: Seller) -> None:
            seller.suspended = True
            seller.suspended_until = self.until
            seller.suspension = suspension_key(self)
            seller.remember(self.cause)

    class SuspensionLifted(EventSourced.Event):
        reason: str = Field(min_length=1, max_length=2000)
        suspension: str | None = Field(
            None, max_length=200, description="the key of the suspension lifted"
        )
        cause: Cause | None = Field(None, description=CAUSE)

        def apply(self, seller: Seller) -> None:
            seller.suspended = False
            seller.suspended_until = None
            seller.remember(self.cause)

    @staticmethod
    def id_for(marketplace: str, seller_ref: str) -> UUID:
        """Sellers are named by marketplace and the marketplace's own seller id.

        Nothing falls back to a former id (values.former_id): the policies derive seller ids
        from events alone, so strikes recorded before ids were collision-free for a seller with
        `|` in its marketplace or id stay on the record under that id."""
        return stable_id("seller", marketplace, seller_ref)

    @classmethod
    def register(cls, marketplace: str, seller_ref: str, actor: Actor, at: datetime) -> Seller:
        """Start the seller's record."""
        return cls.start(
            cls.Registered,
            cls.id_for(marketplace, seller_ref),
            actor,
            at,
            marketplace=marketplace,
            seller_ref=seller_ref,
        )

    def record_strike(
        self,
        case_id: UUID,
        expires_at: datetime,
        actor: Actor,
        at: datetime,
        notice_id: UUID | None = None,
    ) -> None:
        """Count a final takedown against the seller: one strike per case, ever, and one live
        strike per notice, so a notice naming several of the seller's listings is one strike,
        not several (once that strike is removed, another final takedown of it may give one)."""
        if case_id in self.strikes:
            raise SellerAlreadyDone(
                f"seller {self.seller_ref} already has a strike for case {case_id}"
            )
        if case_id in self.struck:
            raise SellerAlreadyDone(
                f"seller {self.seller_ref} already had a strike for case {case_id}, since removed"
            )
        if notice_id is not None and any(s.notice_id == notice_id for s in self.strikes.values()):
            raise SellerAlreadyDone(
                f"seller {self.seller_ref} already has a strike for notice {notice_id}: "
                "a notice gives one strike, whatever the number of listings it names"
            )
        if expires_at <= at:
            raise SellerError("a strike must expire after it is recorded")
        self.record(
            self.StrikeRecorded,
            actor,
            at,
            case_id=case_id,
            expires_at=expires_at,
            notice_id=notice_id,
        )

    def remove_strike(self, case_id: UUID, reason: str, actor: Actor, at: datetime) -> None:
        """Take a strike back, e.g. when the seller's counter-notice succeeds."""
        if case_id in self.struck and case_id not in self.strikes:
            raise SellerAlreadyDone(
                f"seller {self.seller_ref} has no strike for case {case_id}: it was removed"
            )
        if case_id not in self.strikes:
            raise SellerError(f"seller {self.seller_ref} has no strike for case {case_id}")
        self.record(self.StrikeRemoved, actor, at, case_id=case_id, reason=reason)

    def suspend(
        self,
        reason: str,
        actor: Actor,
        at: datetime,
        threshold: int,
        until: datetime | None = None,
        cause: str | None = None,
    ) -> None:
        """Suspend a repeat infringer until the given time (None: until lifted), only with at
        least `threshold` live strikes. A suspension that ran out may be followed by another."""
        self._not_yet_acted_on(cause)
        if self.is_suspended(at):
            # Refused, not already done: a policy that meets another suspension (a supervisor's)
            # must not note one of its own in its view; its own cause again is already done.
            raise SellerError(f"seller {self.seller_ref} is already suspended")
        if until is not None and until <= at:
            raise SellerError("a suspension must end after it starts")
        live = self.live_strikes(at)
        if live < threshold:
            raise SellerError(
                f"seller {self.seller_ref} has {live} live strikes; {threshold} suspend"
            )
        self.record(
            self.Suspended, actor, at, reason=reason, live_strikes=live, until=until, cause=cause
        )

    def lift_suspension(
        self, reason: str, actor: Actor, at: datetime, cause: str | None = None
    ) -> None:
        """End a running suspension before its term, with the reason the seller will see (the
        policies lift it when removed strikes leave too few to suspend; a supervisor may too)."""
        self._not_yet_acted_on(cause)
        if not self.is_suspended(at):
            raise SellerAlreadyDone(f"seller {self.seller_ref} is not suspended")
        self.record(
            self.SuspensionLifted,
            actor,
            at,
            reason=reason,
            suspension=self.suspension,
            cause=cause,
        )

    def is_suspended(self, at: datetime) -> bool:
        """True while a suspension runs: recorded, not lifted, and its term not yet over."""
        return self.suspended and (self.suspended_until is None or at < self.suspended_until)

    def live_strikes(self, at: datetime) -> int:
        """Strikes not yet expired at the given time."""
        return sum(1 for strike in self.strikes.values() if strike.expires_at > at)

    def remember(self, cause: str | None) -> None:
        """Note that a policy acted on this cause (called from event bodies only)."""
        if cause is not None:
            self.causes.add(cause)

    def _not_yet_acted_on(self, cause: str | None) -> None:
        if cause is not None and cause in self.causes:
            raise SellerAlreadyDone(
                f"seller {self.seller_ref} was already acted on for event {cause}"
            )


def suspension_key(event: Seller.Suspended) -> str:
    """What names one suspension, from its event alone: the cause a policy gave it, else the
    event's own id. The policy view tells suspensions apart by it, whatever order their
    events and their liftings arrive in."""
    return event.cause or f"{event.originator_id}:{event.originator_version}"
