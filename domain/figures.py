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

from domain.case import Case, Deadline, Lane, reinstates
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
    notice_id: UUID | None = None
    """The notice that opened the case (None in views written before they kept it)."""
    stands: bool = False
    """A reviewer stands behind the takedown: decided in the normal lane, or a fast-lane
    takedown confirmed on review."""
    window_closed: bool = False
    """The counter-notice window closed with no counter-notice."""
    appeal_rejected: bool = False
    """The seller's counter-notice was rejected: the takedown stands after the appeal."""

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
            notice_id=event.notice_id,
        )

    @property
    def seller_id(self) -> UUID:
        """The id of the seller aggregate that holds the listing's strikes."""
        return Seller.id_for(self.marketplace, self.seller_ref)

    @property
    def final(self) -> bool:
        """The takedown is final, as a strike needs: it stands and the seller's window to
        counter-notice closed unused, or the seller's counter-notice was rejected."""
        upheld = (self.stands and self.window_closed) or self.appeal_rejected
        return self.taken_down and upheld and not self.reversed

    @property
    def settled(self) -> bool:
        """Decided for good, as the trusted lane counts it: declined, or taken down and past
        the counter-notice window (it closed unused, or the counter-notice was decided, or the
        listing was reinstated). A takedown still open to a counter-notice may yet be undone."""
        if self.declined:
            return True
        return self.taken_down and (self.window_closed or self.appeal_rejected or self.reversed)

    def after(self, event: DomainEvent) -> CaseFacts:
        """The facts once the case event happened (the same facts the dashboard counts)."""
        if isinstance(event, Case.TakenDown):
            return replace(self, taken_down=True, stands=event.lane is Lane.NORMAL)
        if isinstance(event, Case.TakedownConfirmed):
            return replace(self, stands=True)
        if isinstance(event, Case.Declined):
            return replace(self, declined=True)
        if isinstance(event, Case.AppealRejected):
            return replace(self, appeal_rejected=True)
        if closes_window(event):
            return replace(self, window_closed=True)
        if reinstates(event):
            return replace(self, reversed=self.taken_down)
        return self


def closes_window(event: DomainEvent) -> bool:
    """Whether the event is the seller's counter-notice window closing unused."""
    return isinstance(event, Case.DeadlineMissed) and event.deadline is Deadline.COUNTER_NOTICE


# -- figures -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts over a set of cases, as the dashboard's trusted-lane figures count them."""

    notices: int = 0
    decided: int = 0
    taken_down: int = 0
    reversed: int = 0
    declined: int = 0
    settled: int = 0
    """Decided notices past their counter-notice window (`CaseFacts.settled`)."""

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
    return (
        tally.notices,
        tally.decided,
        tally.taken_down,
        tally.reversed,
        tally.declined,
        tally.settled,
    )


NOTHING = Tally()


@dataclass(frozen=True, slots=True)
class LaneVerdict:
    """The trusted-lane rule applied to a notifier's figures over the trailing window."""

    too_few: str | None
    """Why there are too few settled decisions to judge the shares at all (None: enough)."""
    share_shortfalls: tuple[str, ...]
    """The share thresholds the figures miss, in words (what takes a notifier out of the lane)."""

    @property
    def enough(self) -> bool:
        """Enough settled decisions to judge the shares."""
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
    settled: int, takedown_share: float | None, reversal_share: float | None, rules: Rules
) -> LaneVerdict:
    """The one trusted-lane rule: at least `trusted_min_notices` settled decisions (one at the
    least: notices declined, or taken down and past their counter-notice window, see
    `CaseFacts.settled`), a takedown share (takedowns that stood, of decided notices) at or
    above the minimum and a reversal share (of takedowns) at or below the maximum. The policy,
    the application service and the dashboard all ask this; filed but undecided notices never
    count, and a takedown still open to a counter-notice counts towards the shares only, so a
    brand's one big notice taken down in a day does not admit it that day."""
    needed = max(rules.trusted_min_notices, 1)
    too_few = (
        None
        if settled >= needed
        else f"{settled} decided notices past their counter-notice window is fewer than {needed}"
    )
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
    return Tally(
        1,
        int(taken or declined),
        int(taken),
        int(taken and case.reversed),
        int(declined),
        int(case.settled),
    )


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
