"""The commands the policies give: `domain/policies.py` decides them, the runner
(consumers/policies.py) carries them out through the application.

Every command names its cause, the id of the event it answers, so a redelivered event acts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.values import DomainEvent


def cause_of(event: DomainEvent) -> str:
    """The event's stable id (its CloudEvents ce_id): aggregate id and version."""
    return f"{event.originator_id}:{event.originator_version}"


# -- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordStrike:
    """Count a final takedown against the case's seller (one per notice)."""

    marketplace: str
    seller_ref: str
    case_id: UUID
    upheld_at: datetime
    """When the takedown became final; the strike's lifetime runs from then."""
    expires_at: datetime
    cause: str
    notice_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class RemoveStrike:
    """Take a case's strike back: its takedown was undone."""

    seller_id: UUID
    case_id: UUID
    reason: str
    cause: str


@dataclass(frozen=True, slots=True)
class SuspendSeller:
    """Suspend a repeat infringer until the end of its term."""

    seller_id: UUID
    reason: str
    live_strikes: int
    cause: str
    until: datetime
    """`seller_suspension_days` from the event that gave the suspending strike, as a strike's
    lifetime runs from the moment its takedown became final."""


@dataclass(frozen=True, slots=True)
class LiftSellerSuspension:
    """End a seller's suspension early: removed strikes left too few live ones to suspend."""

    seller_id: UUID
    reason: str
    cause: str


@dataclass(frozen=True, slots=True)
class AdmitToTrustedLane:
    """Admit a notifier to Good Faith Takedown on its trailing figures."""

    notifier_id: UUID
    takedown_share: float
    reversal_share: float
    notices: int
    """Settled decisions in the window (`Tally.settled`), what the lane's minimum counts."""
    cause: str


@dataclass(frozen=True, slots=True)
class RemoveFromTrustedLane:
    """Take a notifier out of the trusted lane."""

    notifier_id: UUID
    reason: str
    cause: str


@dataclass(frozen=True, slots=True)
class WarnNotifier:
    """Warn a notifier for manifestly unfounded notices (DSA Art. 23)."""

    notifier_id: UUID
    reason: str
    unfounded_share: float
    cause: str


@dataclass(frozen=True, slots=True)
class SuspendNotifier:
    """Suspend a warned notifier that went on filing unfounded notices."""

    notifier_id: UUID
    reason: str
    cause: str


SellerCommand = RecordStrike | RemoveStrike | SuspendSeller | LiftSellerSuspension
NotifierCommand = AdmitToTrustedLane | RemoveFromTrustedLane | WarnNotifier | SuspendNotifier
Command = SellerCommand | NotifierCommand
