"""The figures the trusted-lane and misuse rules read: a notifier's cases over a trailing window.

`CaseFacts` is a case as the policies count it, `counted` what one case adds to a `Tally`, and a
`Ledger` one notifier's recent cases with running window counts; `lane_verdict` is the one
trusted-lane rule that the policy, the application service and the dashboard all ask.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from domain.case import Case, reinstates
from domain.rules import Rules
from domain.seller import Seller
from domain.values import DomainEvent

# -- what the policies remember ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """A case as the policies count it: who filed it, whose listing, and how it ended so far."""

    case_id: UUID
    notifier_id: UUID
    marketplace: str
    seller_ref: str
    filed_at: datetime
    taken_down: bool = False
    declined: bool = False
    reversed: bool = False
    """The listing was reinstated after a takedown (reversal, upheld appeal, restoration)."""

    @classmethod
    def filed(cls, event: Case.Filed) -> CaseFacts:
        """The facts of a new case."""
        listing = event.listing
        return cls(
            event.originator_id,
            event.notifier_id,
            listing.marketplace,
            listing.seller_id,
            event.timestamp,
        )

    @property
    def seller_id(self) -> UUID:
        """The id of the seller aggregate that holds the listing's strikes."""
        return Seller.id_for(self.marketplace, self.seller_ref)

    def after(self, event: DomainEvent) -> CaseFacts:
        """The facts once the case event happened (the same facts the dashboard counts)."""
        if isinstance(event, Case.TakenDown):
            return replace(self, taken_down=True)
        if isinstance(event, Case.Declined):
            return replace(self, declined=True)
        if reinstates(event):
            return replace(self, reversed=self.taken_down)
        return self


# -- figures -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts over a set of cases, as the dashboard's trusted-lane figures count them."""

    notices: int = 0
    decided: int = 0
    taken_down: int = 0
    reversed: int = 0
    declined: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))

    def __sub__(self, other: Tally) -> Tally:
        return Tally(*(a - b for a, b in zip(_values(self), _values(other), strict=True)))

    @property
    def takedown_share(self) -> float | None:
        """Decided notices that ended in a takedown that stood."""
        return (self.taken_down - self.reversed) / self.decided if self.decided else None

    @property
    def reversal_share(self) -> float | None:
        """Takedowns reversed."""
        return self.reversed / self.taken_down if self.taken_down else None

    @property
    def unfounded_share(self) -> float | None:
        """Decided notices declined as unfounded."""
        return self.declined / self.decided if self.decided else None


def _values(tally: Tally) -> tuple[int, ...]:
    return (tally.notices, tally.decided, tally.taken_down, tally.reversed, tally.declined)


NOTHING = Tally()


@dataclass(frozen=True, slots=True)
class LaneVerdict:
    """The trusted-lane rule applied to a notifier's figures over the trailing window."""

    too_few: str | None
    """Why there are too few decided notices to judge the shares at all (None: enough)."""
    share_shortfalls: tuple[str, ...]
    """The share thresholds the figures miss, in words (what takes a notifier out of the lane)."""

    @property
    def enough(self) -> bool:
        """Enough decided notices to judge the shares."""
        return self.too_few is None

    @property
    def shortfalls(self) -> tuple[str, ...]:
        """Every threshold missed."""
        return (*([self.too_few] if self.too_few else []), *self.share_shortfalls)

    @property
    def qualifies(self) -> bool:
        """The figures meet every threshold of the lane."""
        return not self.shortfalls


def lane_verdict(
    decided: int, takedown_share: float | None, reversal_share: float | None, rules: Rules
) -> LaneVerdict:
    """The one trusted-lane rule: at least `trusted_min_notices` decided notices (one at the
    least), a takedown share (takedowns that stood, of decided notices) at or above the minimum
    and a reversal share (of takedowns) at or below the maximum. The policy, the application
    service and the dashboard all ask this; filed but undecided notices never count."""
    needed = max(rules.trusted_min_notices, 1)
    too_few = None if decided >= needed else f"{decided} decided notices is fewer than {needed}"
    shares = []
    if takedown_share is not None and takedown_share < rules.trusted_min_takedown_share:
        shares.append(
            f"takedown share {takedown_share:.1%} is below {rules.trusted_min_takedown_share:.0%}"
        )
    reversal = reversal_share or 0.0
    if reversal > rules.trusted_max_reversal_share:
        shares.append(
            f"reversal share {reversal:.1%} is above {rules.trusted_max_reversal_share:.0%}"
        )
    return LaneVerdict(too_few, tuple(shares))


def counted(case: CaseFacts | None) -> Tally:
    """What one case adds to a tally."""
    if case is None:
        return NOTHING
    taken, declined = case.taken_down, case.declined
    return Tally(1, int(taken or declined), int(taken), int(taken and case.reversed), int(declined))


@dataclass(slots=True)
class _Window:
    start: datetime
    first: int
    """Index in the ledger's order of the first case filed at or after `start`."""
    tally: Tally


class Ledger:
    """One notifier's cases filed since a horizon, in filing order, with running window counts.

    A window counts the cases filed at or after its start. Starts move forward with time, so a
    count is kept up to date as cases are filed, decided and age out, not recounted per event; a
    start that moves back is recounted once.
    """

    def __init__(self, cases: Iterable[CaseFacts] = ()) -> None:
        self._facts = {case.case_id: case for case in cases}
        self._order = sorted((case.filed_at, case.case_id) for case in self._facts.values())
        self._windows: dict[str, _Window] = {}

    def put(self, case: CaseFacts) -> None:
        """Add a case or change its facts."""
        before = self._facts.get(case.case_id)
        self._facts[case.case_id] = case
        if before is None:
            insort(self._order, (case.filed_at, case.case_id))
        for window in self._windows.values():
            if case.filed_at >= window.start:
                window.tally = window.tally - counted(before) + counted(case)
            elif before is None:  # filed before the window: it only moves the window's index
                window.first += 1

    def figures(self, name: str, start: datetime) -> Tally:
        """The counts of the cases filed at or after `start`, in the window called `name`."""
        window = self._windows.get(name)
        if window is None or start < window.start:
            first = bisect_left(self._order, (start,))
            tally = sum((counted(self._facts[i]) for _, i in self._order[first:]), NOTHING)
            self._windows[name] = _Window(start, first, tally)
            return tally
        order = self._order
        while window.first < len(order) and order[window.first][0] < start:
            window.tally -= counted(self._facts[order[window.first][1]])
            window.first += 1
        window.start = start
        return window.tally
