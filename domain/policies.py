"""Policies: what ntd does, unasked, about what happened (docs/domain.md, "Policies").

Pure decisions. `decide` takes one event and what the policy view holds after it (the case's
facts, the seller's strikes, the notifier's standing and a ledger of its recent cases) and returns
the commands to give; nothing here reads a store or a clock. The runner (consumers/policies.py)
feeds events in, carries the commands out through the application and settles the view with
what the aggregates then hold.

Every command names its cause, the id of the event it answers. A redelivered event yields the
same commands again, and the aggregates refuse what they already did (`AlreadyDone`): one strike
per case and per notice, one action per cause on a seller's suspension and on a notifier.

The commands live in domain/policy_commands.py; the figures the trusted-lane and misuse rules
read, and the trusted-lane rule itself, in domain/figures.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from domain.case import Case, Deadline
from domain.figures import CaseFacts, Ledger, Tally, closes_window, lane_verdict
from domain.notifier import Notifier
from domain.policy_commands import (
    AdmitToTrustedLane,
    Command,
    LiftSellerSuspension,
    RecordStrike,
    RemoveFromTrustedLane,
    RemoveStrike,
    SellerCommand,
    SuspendNotifier,
    SuspendSeller,
    WarnNotifier,
    cause_of,
)
from domain.rules import Rules
from domain.seller import Seller, suspension_key
from domain.values import DomainEvent

# -- what the policies remember ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SellerRecord:
    """A seller's strikes and suspensions as the policies know them. Every change is a one-way
    step (a strike given, a strike removed, a suspension known, a suspension lifted), so the
    record ends the same whatever order the seller's events and the policies' own commands
    reach it in."""

    seller_id: UUID
    strikes: Mapping[UUID, datetime] = field(default_factory=dict)
    """Strikes not removed (expired ones included): case → when the strike expires."""
    removed: frozenset[UUID] = frozenset()
    suspensions: Mapping[str, datetime | None] = field(default_factory=dict)
    """Every suspension known, by key (`seller.suspension_key`) → when it ends (None: never,
    for suspensions recorded before they had a term)."""
    lifted: frozenset[str] = frozenset()
    """The suspensions lifted before their term."""
    notices: Mapping[UUID, UUID] = field(default_factory=dict)
    """The notice of each case that gave a strike: a notice gives one live strike."""

    def live(self, at: datetime) -> int:
        """Strikes not expired at the given time."""
        return sum(1 for expires in self.strikes.values() if expires > at)

    def is_suspended(self, at: datetime) -> bool:
        """True while a suspension runs: not lifted and its term not over."""
        return any(
            key not in self.lifted and (until is None or at < until)
            for key, until in self.suspensions.items()
        )

    def has_struck(self, case_id: UUID, notice_id: UUID | None = None) -> bool:
        """True once the case gave a strike (removed or not), or while another case of its
        notice holds a live one: a notice whose strike was removed may still give one."""
        if case_id in self.strikes or case_id in self.removed:
            return True
        return notice_id is not None and any(
            self.notices.get(case) == notice_id for case in self.strikes
        )

    def with_strike(
        self, case_id: UUID, expires_at: datetime, notice_id: UUID | None = None
    ) -> SellerRecord:
        """The record with the case's strike (unchanged if the case already gave one)."""
        if case_id in self.strikes or case_id in self.removed:
            return self
        notices = self.notices if notice_id is None else {**self.notices, case_id: notice_id}
        return replace(self, strikes={**self.strikes, case_id: expires_at}, notices=notices)

    def without_strike(self, case_id: UUID) -> SellerRecord:
        """The record with the case's strike removed for good."""
        if case_id in self.removed:
            return self
        strikes = {case: expires for case, expires in self.strikes.items() if case != case_id}
        return replace(self, strikes=strikes, removed=self.removed | {case_id})

    def with_suspension(self, key: str, until: datetime | None) -> SellerRecord:
        """The record knowing one more suspension."""
        if key in self.suspensions:
            return self
        return replace(self, suspensions={**self.suspensions, key: until})

    def lifting(self, key: str | None = None) -> SellerRecord:
        """The record with the given suspension lifted (None: every one not lifted yet, which
        is the running one, if any, and ones whose term is over anyway)."""
        keys = {key} if key is not None else set(self.suspensions) - self.lifted
        return replace(self, lifted=self.lifted | keys)

    def after(self, event: DomainEvent) -> SellerRecord:
        """The record once a seller event happened, in whatever order events arrive."""
        if isinstance(event, Seller.StrikeRecorded):
            return self.with_strike(event.case_id, event.expires_at, event.notice_id)
        if isinstance(event, Seller.StrikeRemoved):
            return self.without_strike(event.case_id)
        if isinstance(event, Seller.Suspended):
            return self.with_suspension(suspension_key(event), event.until)
        if isinstance(event, Seller.SuspensionLifted):
            return self.lifting(event.suspension)
        return self

    def settled(self, command: SellerCommand) -> SellerRecord:
        """The record once a command is done (or found already done): the same step its event
        will make when it arrives."""
        if isinstance(command, RecordStrike):
            return self.with_strike(command.case_id, command.expires_at, command.notice_id)
        if isinstance(command, RemoveStrike):
            return self.without_strike(command.case_id)
        if isinstance(command, SuspendSeller):
            return self.with_suspension(command.cause, command.until)
        return self.lifting()


ADMISSIONS = (Notifier.AdmittedToTrustedLane, Notifier.ManuallyAdmittedToTrustedLane)
"""Either way into the trusted lane: on the figures, or by a supervisor's judgement."""


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
        if isinstance(event, ADMISSIONS):
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
    Case.AppealRejected,
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


def finalizes(event: DomainEvent, case: CaseFacts) -> bool:
    """Whether the event is the one that made the case's takedown final (`CaseFacts.final`,
    the facts as they stand after it): the counter-notice window closing on a takedown that
    stands, a fast-lane takedown confirmed after its window closed, or a rejected appeal. A
    takedown whose window is still open is not final: the seller may yet counter-notice."""
    if not case.final:
        return False
    return isinstance(
        event, Case.TakenDown | Case.TakedownConfirmed | Case.AppealRejected
    ) or closes_window(event)


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
    """Repeat infringers: a strike when a takedown becomes final, one per notice however many
    of the seller's listings it names, taken back when the takedown is undone; suspension for
    `seller_suspension_days` at `strikes_to_suspend` strikes live at the time of the event,
    lifted when removed strikes leave fewer. A suspended seller gets no strikes until its
    suspension ends."""
    cause = cause_of(event)
    at = event.timestamp
    if finalizes(event, case):
        if seller.is_suspended(at) or seller.has_struck(case.case_id, case.notice_id):
            return []
        expires = at + timedelta(days=rules.strike_lifetime_days)
        strike = RecordStrike(
            case.marketplace, case.seller_ref, case.case_id, at, expires, cause, case.notice_id
        )
        live = seller.live(at) + 1
        if live < rules.strikes_to_suspend:
            return [strike]
        reason = (
            f"{live} live strikes: {rules.strikes_to_suspend} final takedowns within "
            f"{rules.strike_lifetime_days} days suspend a seller for "
            f"{rules.seller_suspension_days} days (repeat-infringer policy)"
        )
        until = at + timedelta(days=rules.seller_suspension_days)
        return [strike, SuspendSeller(case.seller_id, reason, live, cause, until)]
    undone = undoing(event)
    if undone is None or case.case_id not in seller.strikes:
        return []
    commands: list[Command] = [RemoveStrike(case.seller_id, case.case_id, undone, cause)]
    live = seller.without_strike(case.case_id).live(at)
    if seller.is_suspended(at) and live < rules.strikes_to_suspend:
        reason = (
            f"the strike of case {case.case_id} was removed ({undone}): {live} live strikes "
            f"are fewer than the {rules.strikes_to_suspend} that suspend a seller"
        )
        commands.append(LiftSellerSuspension(case.seller_id, reason, cause))
    return commands


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
    remove a notifier in the lane when either share fails. The shares are over decided notices
    and judged only from `trusted_min_notices` settled decisions on: fewer decide nothing."""
    verdict = lane_verdict(figures.settled, figures.takedown_share, figures.reversal_share, rules)
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
    return AdmitToTrustedLane(standing.notifier_id, takedown, reversal, figures.settled, cause)


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
