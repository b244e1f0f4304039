"""Commands on notifiers: registration, rights and standing (trusted lane, misuse)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from domain.access import Principal
from domain.figures import lane_verdict
from domain.notifier import Notifier, NotifierError, NotifierKind
from domain.permissions import Target
from domain.service import Service, target_of
from domain.values import (
    SYSTEM,
    Actor,
    ActorKind,
    DomainError,
    RightType,
    Role,
)


class NotifierService(Service):
    """Notifiers, their rights and their standing."""

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
        by = self._authorize("register_notifier", actor, Target("a new notifier"))
        notifier = Notifier.register(name, kind, contact_email, by, self.clock.now(), notifier_id)
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

        def change(n: Notifier, now: datetime, by: Actor) -> None:
            result[:] = [
                n.register_right(
                    right_type, registration_number, jurisdiction, certificate_sha256, by, now
                )
            ]

        self._change(Notifier, notifier_id, "register_right", actor, change)
        return result[0]

    def verify_right(self, notifier_id: UUID, right_id: UUID, actor: Actor) -> None:
        """A supervisor verified the right: it may now back notices."""
        self._change(
            Notifier,
            notifier_id,
            "verify_right",
            actor,
            lambda n, now, by: n.verify_right(right_id, by, now),
        )

    def reject_right(self, notifier_id: UUID, right_id: UUID, reason: str, actor: Actor) -> None:
        """A supervisor refused the right."""
        self._change(
            Notifier,
            notifier_id,
            "reject_right",
            actor,
            lambda n, now, by: n.reject_right(right_id, reason, by, now),
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
        """Admit a notifier to Good Faith Takedown on the figures the policy computed from the
        events (only the system gives this command: no person supplies figures).

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
            "admit_to_trusted_lane",
            actor,
            lambda n, now, by: n.admit_to_trusted_lane(
                takedown_share, reversal_share, notices, by, now, cause
            ),
        )

    def admit_manually(self, notifier_id: UUID, reason: str, actor: Actor) -> None:
        """A supervisor admits a notifier to the trusted lane by judgement, recorded as manual
        with its reason; the figures are not asked, the re-apply date and a suspension are."""
        self._change(
            Notifier,
            notifier_id,
            "admit_manually",
            actor,
            lambda n, now, by: n.admit_manually(reason, by, now),
        )

    def remove_from_trusted_lane(
        self, notifier_id: UUID, reason: str, actor: Actor = SYSTEM, cause: str | None = None
    ) -> None:
        """Take a notifier out of the fast lane; it may re-apply after the policy period."""

        def change(n: Notifier, now: datetime, by: Actor) -> None:
            reapply = (now + timedelta(days=self.rules.trusted_reapply_days)).date()
            n.remove_from_trusted_lane(reason, reapply, by, now, cause)

        self._change(Notifier, notifier_id, "remove_from_trusted_lane", actor, change)

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
            "warn_notifier",
            actor,
            lambda n, now, by: n.warn_for_misuse(reason, unfounded_share, by, now, cause),
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

        def change(n: Notifier, now: datetime, by: Actor) -> None:
            span = timedelta(days=self.rules.misuse_suspension_days if days is None else days)
            n.suspend(reason, now + span, by, now, cause)

        self._change(Notifier, notifier_id, "suspend_notifier", actor, change)

    def assign_manager(self, notifier_id: UUID, manager: Actor, actor: Actor) -> None:
        """Make a platform account manager the notifier's manager (reassigning keeps history);
        the manager must hold the account_manager role."""

        def change(n: Notifier, now: datetime, by: Actor) -> None:
            if manager.kind is ActorKind.AGENT:  # other kinds: the notifier says why not
                self._require_account_manager(manager)
            n.assign_manager(manager, by, now)

        self._change(Notifier, notifier_id, "assign_manager", actor, change)

    def _require_account_manager(self, manager: Actor) -> None:
        principal = self._find(Principal, Principal.id_for(manager))
        if principal is None or Role.ACCOUNT_MANAGER not in {g.role for g in principal.grants}:
            raise NotifierError(
                f"{manager.principal} does not hold account_manager; grant it first "
                f"(ntd access grant {manager.principal} account_manager)"
            )

    def notifier(self, notifier_id: UUID, viewer: Actor) -> Notifier:
        """A notifier by id."""
        scoped = self._scoped("notifier", viewer)
        notifier = self._get(Notifier, notifier_id)
        scoped(target_of(notifier))
        return notifier
