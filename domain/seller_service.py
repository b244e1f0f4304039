"""Commands on sellers: strikes and suspensions (the policies give most of them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.access import (
    SellerKey,
)
from domain.permissions import Target
from domain.seller import Seller
from domain.service import ATTEMPTS, ConcurrencyConflict, Service, target_of
from domain.values import (
    SYSTEM,
    Actor,
)


class SellerService(Service):
    """Sellers, their strikes and suspensions."""

    # -- sellers -------------------------------------------------------------------------------

    def record_strike(
        self,
        marketplace: str,
        seller_ref: str,
        case_id: UUID,
        actor: Actor = SYSTEM,
        upheld_at: datetime | None = None,
        notice_id: UUID | None = None,
    ) -> UUID:
        """Count a final takedown against the seller (created on its first strike); one strike
        per case and one per notice.

        The strike's lifetime runs from `upheld_at` (default now), when the takedown became
        final.
        """
        seller_id = Seller.id_for(marketplace, seller_ref)
        key = SellerKey(marketplace=marketplace, seller_ref=seller_ref)
        by = self._authorize("record_strike", actor, Target(f"seller {seller_id}", seller=key))
        for _ in range(ATTEMPTS):
            now = self.clock.now()
            seller = self._find(Seller, seller_id) or Seller.register(
                marketplace, seller_ref, SYSTEM, now
            )
            expires = (upheld_at or now) + timedelta(days=self.rules.strike_lifetime_days)
            seller.record_strike(case_id, expires, by, now, notice_id=notice_id)
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
        self._change(
            Seller,
            seller_id,
            "remove_strike",
            actor,
            lambda s, now, by: s.remove_strike(case_id, reason, by, now),
        )

    def suspend_seller(
        self,
        seller_id: UUID,
        reason: str,
        actor: Actor = SYSTEM,
        cause: str | None = None,
        until: datetime | None = None,
    ) -> None:
        """Suspend a repeat infringer until `until` (default: `seller_suspension_days` from
        now); `cause` names the event a policy acts on, never acted on twice."""

        def change(s: Seller, now: datetime, by: Actor) -> None:
            end = until or now + timedelta(days=self.rules.seller_suspension_days)
            s.suspend(reason, by, now, self.rules.strikes_to_suspend, until=end, cause=cause)

        self._change(Seller, seller_id, "suspend_seller", actor, change)

    def lift_seller_suspension(
        self, seller_id: UUID, reason: str, actor: Actor = SYSTEM, cause: str | None = None
    ) -> None:
        """End a seller's suspension before its term, with the reason (the policies do when
        removed strikes leave too few live ones; a supervisor may by judgement)."""
        self._change(
            Seller,
            seller_id,
            "lift_seller_suspension",
            actor,
            lambda s, now, by: s.lift_suspension(reason, by, now, cause),
        )

    def seller(self, seller_id: UUID, viewer: Actor) -> Seller:
        """A seller by id."""
        scoped = self._scoped("seller", viewer)
        seller = self._get(Seller, seller_id)
        scoped(target_of(seller))
        return seller
