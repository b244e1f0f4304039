"""Policies: what ntd does, unasked, about what happened (docs/domain.md, "Policies").

Pure decisions. `decide` takes one event and what the policy view holds after it (the case's
facts, the seller's strikes, the notifier's standing and a ledger of its recent cases) and returns
the commands to give; nothing here reads a store or a clock. The runner (consumers/policies.py)
feeds events in, carries the commands out through the application and settles the view.

Every command names its cause, the id of the event it answers. A redelivered event yields the
same commands again, and the aggregates refuse what they already did (`AlreadyDone`): one strike
per case, one suspension per seller, one action per cause on a notifier.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from domain.case import Case, Deadline, Lane, reinstates
from domain.notifier import Notifier
from domain.rules import Rules
from domain.seller import Seller
from domain.values import DomainEvent


def cause_of(event: DomainEvent) -> str:
    """The event's stable id (its CloudEvents ce_id): aggregate id and version."""
    return f"{event.originator_id}:{event.originator_version}"


# -- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordStrike:
    """Count an upheld takedown against the case's seller."""

    marketplace: str
    seller_ref: str
    case_id: UUID
    upheld_at: datetime
    expires_at: datetime
    cause: str


@dataclass(frozen=True, slots=True)
class RemoveStrike:
    """Take a case's strike back: its takedown was undone."""

    seller_id: UUID
    case_id: UUID
    reason: str
    cause: str


@dataclass(frozen=True, slots=True)
class SuspendSeller:
    """Suspend a repeat infringer."""

    seller_id: UUID
    reason: str
    live_strikes: int
    cause: str


@dataclass(frozen=True, slots=True)
class AdmitToTrustedLane:
    """Admit a notifier to Good Faith Takedown on its trailing figures."""

    notifier_id: UUID
    takedown_share: float
    reversal_share: float
    notices: int
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


SellerCommand = RecordStrike | RemoveStrike | SuspendSeller
NotifierCommand = AdmitToTrustedLane | RemoveFromTrustedLane | WarnNotifier | SuspendNotifier
Command = SellerCommand | NotifierCommand


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


@dataclass(frozen=True, slots=True)
class SellerRecord:
    """A seller's strikes as the policies know them; every change is a one-way step."""

    seller_id: UUID
    strikes: Mapping[UUID, datetime] = field(default_factory=dict)
    """Strikes not removed (expired ones included): case → when the strike expires."""
    removed: frozenset[UUID] = frozenset()
    suspended: bool = False

    def live(self, at: datetime) -> int:
        """Strikes not expired at the given time."""
        return sum(1 for expires in self.strikes.values() if expires > at)

    def has_struck(self, case_id: UUID) -> bool:
        """True once the case gave a strike, removed or not."""
        return case_id in self.strikes or case_id in self.removed

    def with_strike(self, case_id: UUID, expires_at: datetime) -> SellerRecord:
        """The record with the case's strike (unchanged if the case already gave one)."""
        if self.has_struck(case_id):
            return self
        return replace(self, strikes={**self.strikes, case_id: expires_at})

    def without_strike(self, case_id: UUID) -> SellerRecord:
        """The record with the case's strike removed for good."""
        if case_id in self.removed:
            return self
        strikes = {case: expires for case, expires in self.strikes.items() if case != case_id}
        return replace(self, strikes=strikes, removed=self.removed | {case_id})

    def after(self, event: DomainEvent) -> SellerRecord:
        """The record once a seller event happened, in whatever order events arrive."""
        if isinstance(event, Seller.StrikeRecorded):
            return self.with_strike(event.case_id, event.expires_at)
        if isinstance(event, Seller.StrikeRemoved):
            return self.without_strike(event.case_id)
        if isinstance(event, Seller.Suspended):
            return replace(self, suspended=True)
        return self

    def settled(self, command: SellerCommand) -> SellerRecord:
        """The record once a command is done (or found already done)."""
        if isinstance(command, RecordStrike):
            return self.with_strike(command.case_id, command.expires_at)
        if isinstance(command, RemoveStrike):
            return self.without_strike(command.case_id)
        return replace(self, suspended=True)


@dataclass(frozen=True, slots=True)
class Standing:
    """A notifier's standing as of one version of its aggregate."""

    notifier_id: UUID
    version: int = 0
    in_lane: bool = False
    may_reapply_on: date | None = None
    warned_at: datetime | None = None
    """An outstanding warning: not yet followed by a suspension."""
    suspended_until: datetime | None = None

    @classmethod
    def of(cls, notifier: Notifier) -> Standing:
        """The standing the aggregate itself holds."""
        return cls(
            notifier.id,
            notifier.version,
            notifier.in_trusted_lane,
            notifier.may_reapply_on,
            notifier.warned_at,
            notifier.suspended_until,
        )

    def after(self, event: DomainEvent) -> Standing:
        """The standing after a notifier event; an event it already reflects changes nothing."""
        if event.originator_version <= self.version:
            return self
        changes: dict[str, Any] = {"version": event.originator_version}
        if isinstance(event, Notifier.AdmittedToTrustedLane):
            changes |= {"in_lane": True, "may_reapply_on": None}
        elif isinstance(event, Notifier.RemovedFromTrustedLane):
            changes |= {"in_lane": False, "may_reapply_on": event.may_reapply_on}
        elif isinstance(event, Notifier.WarnedForMisuse):
            changes |= {"warned_at": event.timestamp}
        elif isinstance(event, Notifier.Suspended):
            changes |= {"in_lane": False, "warned_at": None, "suspended_until": event.until}
        return replace(self, **changes)

    def is_suspended(self, at: datetime) -> bool:
        """True while a suspension runs."""
        return self.suspended_until is not None and at < self.suspended_until

    @property
    def misuse_since(self) -> datetime | None:
        """Only notices filed after the last sanction count towards the next one: after the
        warning's moment, or from the end of the last suspension."""
        if self.warned_at is not None:
            return self.warned_at + timedelta(microseconds=1)
        return self.suspended_until


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


# -- deciding ------------------------------------------------------------------------------------


class PolicyState(Protocol):
    """What the decisions read: the policy view, with the event already observed."""

    def case(self, case_id: UUID) -> CaseFacts | None:
        """The case's facts, or None for a case the view never saw filed."""
        ...

    def seller(self, seller_id: UUID) -> SellerRecord:
        """The seller's record (empty for a seller without strikes)."""
        ...

    def standing(self, notifier_id: UUID) -> Standing:
        """The notifier's standing (the default standing for one not seen yet)."""
        ...

    def ledger(self, notifier_id: UUID) -> Ledger:
        """The notifier's recent cases."""
        ...


FIGURE_EVENTS: tuple[type[Any], ...] = (
    Case.Filed,
    Case.TakenDown,
    Case.Declined,
    Case.TakedownReversed,
    Case.AppealUpheld,
    Case.DeadlineMissed,
)
"""Case events that can move a notifier's figures."""


def decide(event: DomainEvent, state: PolicyState, rules: Rules) -> list[Command]:
    """The commands the policies give in answer to one event."""
    if not isinstance(event, Case.Filed | Case.Transitioned):
        return []
    case = state.case(event.originator_id)
    if case is None:
        return []
    commands: list[Command] = list(
        strike_commands(event, case, state.seller(case.seller_id), rules)
    )
    if isinstance(event, FIGURE_EVENTS):
        standing = state.standing(case.notifier_id)
        commands += standing_commands(event, standing, state.ledger(case.notifier_id), rules)
    return commands


def upholds(event: DomainEvent) -> bool:
    """A takedown a reviewer stands behind: decided in the normal lane, confirmed, or appealed in
    vain. A fast-lane takedown awaiting its review is not yet upheld."""
    if isinstance(event, Case.TakenDown):
        return event.lane is Lane.NORMAL
    return isinstance(event, Case.TakedownConfirmed | Case.AppealRejected)


def undoing(event: DomainEvent) -> str | None:
    """Why the event takes a takedown's strike back, or None if it does not."""
    if isinstance(event, Case.AppealUpheld):
        return "the seller's counter-notice was upheld"
    if isinstance(event, Case.DeadlineMissed) and event.deadline is Deadline.RESTORATION:
        return "the listing was restored after the seller's counter-notice"
    if isinstance(event, Case.TakedownReversed):
        return "the takedown was reversed on review"
    if isinstance(event, Case.Withdrawn):
        return "the notifier withdrew the notice"
    return None


def strike_commands(
    event: DomainEvent, case: CaseFacts, seller: SellerRecord, rules: Rules
) -> list[Command]:
    """Repeat infringers: a strike per upheld takedown, taken back when the takedown is undone;
    suspension at `strikes_to_suspend` strikes live at the time of the event. A suspended
    seller's account is closed: its later takedowns add no strikes."""
    cause = cause_of(event)
    if upholds(event):
        if seller.suspended or seller.has_struck(case.case_id):
            return []
        at = event.timestamp
        expires = at + timedelta(days=rules.strike_lifetime_days)
        strike = RecordStrike(case.marketplace, case.seller_ref, case.case_id, at, expires, cause)
        live = seller.live(at) + 1
        if live < rules.strikes_to_suspend:
            return [strike]
        reason = (
            f"{live} live strikes: {rules.strikes_to_suspend} upheld takedowns within "
            f"{rules.strike_lifetime_days} days suspend a seller (repeat-infringer policy)"
        )
        return [strike, SuspendSeller(case.seller_id, reason, live, cause)]
    undone = undoing(event)
    if undone is not None and case.case_id in seller.strikes:
        return [RemoveStrike(case.seller_id, case.case_id, undone, cause)]
    return []


def standing_commands(
    event: DomainEvent, standing: Standing, ledger: Ledger, rules: Rules
) -> list[Command]:
    """Trusted lane and misuse, on the notifier's figures at the time of the event."""
    at = event.timestamp
    if standing.is_suspended(at):
        return []
    cause = cause_of(event)
    start = at - timedelta(days=rules.trusted_window_days)
    lane = lane_command(standing, ledger.figures("lane", start), at, rules, cause)
    since = standing.misuse_since
    misuse_start = max(start, since) if since is not None else start
    misuse = misuse_command(standing, ledger.figures("misuse", misuse_start), rules, cause)
    return [command for command in (lane, misuse) if command is not None]


def lane_command(
    standing: Standing, figures: Tally, at: datetime, rules: Rules, cause: str
) -> Command | None:
    """Admit when the trailing figures meet the thresholds (and any re-apply date has come);
    remove a notifier in the lane when either share fails. The shares are over decided notices,
    so fewer decided notices than the minimum decide nothing."""
    verdict = lane_verdict(figures.decided, figures.takedown_share, figures.reversal_share, rules)
    if not verdict.enough:
        return None
    shortfalls = verdict.share_shortfalls
    if standing.in_lane:
        if not shortfalls:
            return None
        reason = (
            f"{'; '.join(shortfalls)} over the {rules.trusted_window_days} days to "
            f"{at:%Y-%m-%d} ({figures.decided} decided notices)"
        )
        return RemoveFromTrustedLane(standing.notifier_id, reason, cause)
    if shortfalls or (standing.may_reapply_on is not None and at.date() < standing.may_reapply_on):
        return None
    takedown, reversal = figures.takedown_share or 0.0, figures.reversal_share or 0.0
    return AdmitToTrustedLane(standing.notifier_id, takedown, reversal, figures.decided, cause)


def misuse_command(standing: Standing, figures: Tally, rules: Rules, cause: str) -> Command | None:
    """Warn at the warning share of unfounded (declined) notices; once warned, suspend at the
    suspension share of the notices filed since the warning."""
    share = figures.unfounded_share
    if figures.decided < rules.misuse_min_notices or share is None:
        return None
    of = f"{share:.1%} of {figures.decided} decided notices"
    if standing.warned_at is None:
        if share < rules.misuse_warning_share:
            return None
        reason = (
            f"{of} were declined as manifestly unfounded "
            f"(a warning follows {rules.misuse_warning_share:.0%})"
        )
        return WarnNotifier(standing.notifier_id, reason, share, cause)
    if share < rules.misuse_suspension_share:
        return None
    reason = (
        f"after the warning of {standing.warned_at:%Y-%m-%d}, {of} filed since were declined as "
        f"manifestly unfounded (a suspension follows {rules.misuse_suspension_share:.0%})"
    )
    return SuspendNotifier(standing.notifier_id, reason, cause)
