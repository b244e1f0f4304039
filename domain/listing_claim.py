"""ListingClaim: which case, if any, is open for one notifier and one listing."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.values import Actor, EventSourced, former_id, stable_id


class ListingClaim(EventSourced):
    """Makes re-filing idempotent: while a case is open, the same listing maps to it."""

    def __init__(self, notifier_id: UUID, marketplace: str, listing_id: str) -> None:
        self.notifier_id = notifier_id
        self.marketplace = marketplace
        self.listing_id = listing_id
        self.open_case_id: UUID | None = None

    class Opened(EventSourced.Created):
        notifier_id: UUID
        marketplace: str
        listing_id: str
        case_id: UUID

        def apply(self, claim: ListingClaim) -> None:
            claim.open_case_id = self.case_id

    class Claimed(EventSourced.Event):
        case_id: UUID

        def apply(self, claim: ListingClaim) -> None:
            claim.open_case_id = self.case_id

    class Released(EventSourced.Event):
        case_id: UUID

        def apply(self, claim: ListingClaim) -> None:
            claim.open_case_id = None

    @staticmethod
    def id_for(notifier_id: UUID, marketplace: str, listing_id: str) -> UUID:
        """One claim per notifier and listing."""
        return stable_id("claim", str(notifier_id), marketplace, listing_id)

    @staticmethod
    def former_id_for(notifier_id: UUID, marketplace: str, listing_id: str) -> UUID | None:
        """The id the claim had before ids were collision-free, if it differs (values.former_id)."""
        return former_id("claim", str(notifier_id), marketplace, listing_id)

    @classmethod
    def open(
        cls,
        notifier_id: UUID,
        marketplace: str,
        listing_id: str,
        case_id: UUID,
        actor: Actor,
        at: datetime,
    ) -> ListingClaim:
        """Start tracking a notifier's cases about a listing, with its first open case."""
        return cls.start(
            cls.Opened,
            cls.id_for(notifier_id, marketplace, listing_id),
            actor,
            at,
            notifier_id=notifier_id,
            marketplace=marketplace,
            listing_id=listing_id,
            case_id=case_id,
        )

    def claim(self, case_id: UUID, actor: Actor, at: datetime) -> None:
        """Point the listing at a new open case, once the previous one was resolved."""
        self.record(self.Claimed, actor, at, case_id=case_id)

    def release(self, case_id: UUID, actor: Actor, at: datetime) -> None:
        """The case is resolved: a new notice may open a new case. Releasing twice is a no-op."""
        if self.open_case_id == case_id:
            self.record(self.Released, actor, at, case_id=case_id)
