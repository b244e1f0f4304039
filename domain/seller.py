"""Seller: the owner of listings, with its strikes (repeat-infringer policy) and suspension."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

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
    """One upheld takedown against the seller, live until it expires or is removed."""

    case_id: UUID
    recorded_at: AwareDatetime
    expires_at: AwareDatetime


class SellerError(DomainError):
    """A seller command the seller's state does not allow."""


class SellerAlreadyDone(SellerError, AlreadyDone):
    """The strike, its removal or the suspension is already on the seller's record."""


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

    class Registered(EventSourced.Created):
        marketplace: str = Field(min_length=1, max_length=100)
        seller_ref: str = Field(min_length=1, max_length=200)

    class StrikeRecorded(EventSourced.Event):
        case_id: UUID
        expires_at: AwareDatetime

        def apply(self, seller: Seller) -> None:
            seller.strikes[self.case_id] = Strike(
                case_id=self.case_id, recorded_at=self.timestamp, expires_at=self.expires_at
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

        def apply(self, seller: Seller) -> None:
            seller.suspended = True

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
        self, case_id: UUID, expires_at: datetime, actor: Actor, at: datetime
    ) -> None:
        """Count an upheld takedown against the seller; one strike per case, ever."""
        if case_id in self.strikes:
            raise SellerAlreadyDone(
                f"seller {self.seller_ref} already has a strike for case {case_id}"
            )
        if case_id in self.struck:
            raise SellerAlreadyDone(
                f"seller {self.seller_ref} already had a strike for case {case_id}, since removed"
            )
        if expires_at <= at:
            raise SellerError("a strike must expire after it is recorded")
        self.record(self.StrikeRecorded, actor, at, case_id=case_id, expires_at=expires_at)

    def remove_strike(self, case_id: UUID, reason: str, actor: Actor, at: datetime) -> None:
        """Take a strike back, e.g. when the seller's counter-notice succeeds."""
        if case_id in self.struck and case_id not in self.strikes:
            raise SellerAlreadyDone(
                f"seller {self.seller_ref} has no strike for case {case_id}: it was removed"
            )
        if case_id not in self.strikes:
            raise SellerError(f"seller {self.seller_ref} has no strike for case {case_id}")
        self.record(self.StrikeRemoved, actor, at, case_id=case_id, reason=reason)

    def suspend(self, reason: str, actor: Actor, at: datetime, threshold: int) -> None:
        """Suspend a repeat infringer: only with at least `threshold` live strikes."""
        if self.suspended:
            raise SellerAlreadyDone(f"seller {self.seller_ref} is already suspended")
        live = self.live_strikes(at)
        if live < threshold:
            raise SellerError(
                f"seller {self.seller_ref} has {live} live strikes; {threshold} suspend"
            )
        self.record(self.Suspended, actor, at, reason=reason, live_strikes=live)

    def live_strikes(self, at: datetime) -> int:
        """Strikes not yet expired at the given time."""
        return sum(1 for strike in self.strikes.values() if strike.expires_at > at)
