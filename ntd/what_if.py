"""Policy what-if: the stored history replayed through the pure policy decisions under other
rules, beside what the policies actually did (`ntd policies what-if`, docs/what-if.md).

The replay feeds every event the policies watch, in log order, to the same `observe` and
`decide` the runner uses (consumers/policies.py), over a policy view held in memory. The events
the policies themselves stored (strikes, suspensions, lane and misuse steps given by the system)
are left out: the replay carries out its own commands on the view instead, with the guards the
aggregates would apply. What people did (a supervisor's admission or suspension) stays in, as do
the cases: they are replayed as they happened, whatever the policies would have done.

A command the policies also gave in the history (the same step on the same seller or notifier
for the same cause) is carried out at the moment it actually was, since the application stamps
what it does with its own clock (a warning's moment, a re-apply date); any other is carried out
at its cause's moment. So a replay under the rules in force reproduces what happened exactly.

Nothing is written: the log is only read, and the view lives and dies in memory.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, cast
from uuid import UUID

from eventsourcing.utils import get_topic
from pydantic import ValidationError

from consumers.policies import SELLER_COMMANDS, watched_topics
from domain.application import NtdApplication
from domain.notifier import Notifier
from domain.policies import SellerRecord, Standing, decide
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
)
from domain.rules import Rules
from domain.seller import Seller
from domain.values import Actor, ActorKind, DomainEvent, problem_text
from ntd.inputs import InputError, parse_json
from projections.policy_view import MemoryPolicyStore, PolicyBatch, observe

PAGE_SIZE = 1000
"""Events read from the store at a time."""
BATCH_SIZE = 10_000
"""Events the in-memory view takes per batch: each batch loads the notifiers' ledgers anew and
recounts their windows once, so bigger batches replay faster (a replay of the demo at size 1.0
took 7.6 s in batches of 1,000, the runner's page)."""

PERMISSION = "read_policy_what_if"
"""The permission table's row a what-if needs: supervisors, admins and auditors, who read every
party's records and standing (the audit trail's readers)."""

Progress = Callable[[int, int], None]


class BadRules(ValueError):
    """Rules given to a what-if that ntd cannot take (not JSON, unknown names, out of bounds)."""


def proposed_rules(now: Rules, text: str) -> Rules:
    """The rules in force with the given JSON object's values in place of theirs (the names and
    bounds of NTD_RULES, domain/rules.py)."""
    try:
        given = parse_json(text, "the value")
    except InputError as error:
        raise BadRules(str(error)) from None
    if not isinstance(given, dict):
        raise BadRules(
            "the rules must be a JSON object of rule names and values, as NTD_RULES, e.g. "
            '{"strikes_to_suspend": 2}'
        )
    unknown = sorted(set(given) - set(Rules.model_fields))
    if unknown:
        raise BadRules(
            f"no rule named {', '.join(map(repr, unknown))} (the rules: "
            f"{', '.join(Rules.model_fields)})"
        )
    try:
        return Rules.model_validate({**now.model_dump(), **given})
    except ValidationError as error:
        raise BadRules("; ".join(problem_text(e) for e in error.errors())) from None


# -- outcomes ------------------------------------------------------------------------------------


class Step(StrEnum):
    """What the policies do to a seller or a notifier (the values name it in JSON)."""

    STRIKE = "strike"
    STRIKE_REMOVED = "strike_removed"
    SELLER_SUSPENDED = "seller_suspended"
    SELLER_LIFTED = "seller_suspension_lifted"
    ADMITTED = "admitted_to_trusted_lane"
    REMOVED = "removed_from_trusted_lane"
    WARNED = "warned_for_misuse"
    NOTIFIER_SUSPENDED = "notifier_suspended"

    @property
    def label(self) -> str:
        """The step in words."""
        return STEP_LABELS[self]


STEP_LABELS = {
    Step.STRIKE: "strike",
    Step.STRIKE_REMOVED: "strike removed",
    Step.SELLER_SUSPENDED: "seller suspended",
    Step.SELLER_LIFTED: "seller suspension lifted",
    Step.ADMITTED: "entered the trusted lane",
    Step.REMOVED: "left the trusted lane",
    Step.WARNED: "warned for misuse",
    Step.NOTIFIER_SUSPENDED: "notifier suspended",
}

SELLER_STEPS = (Step.STRIKE, Step.STRIKE_REMOVED, Step.SELLER_SUSPENDED, Step.SELLER_LIFTED)
NOTIFIER_STEPS = (Step.ADMITTED, Step.REMOVED, Step.WARNED, Step.NOTIFIER_SUSPENDED)

Identity = tuple[Step, UUID, str]
"""What tells one outcome from another: its step, its seller or notifier, and its key (the case
of a strike, else the cause: the id of the event the policies answered)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One thing the policies did, or would have done."""

    step: Step
    subject: UUID
    """The seller or the notifier."""
    key: str
    at: datetime
    until: datetime | None = None
    """When a suspension ends."""

    @property
    def identity(self) -> Identity:
        """The outcome without its moments."""
        return (self.step, self.subject, self.key)


POLICY_EVENTS: dict[type[Any], Step] = {
    Seller.StrikeRecorded: Step.STRIKE,
    Seller.StrikeRemoved: Step.STRIKE_REMOVED,
    Seller.Suspended: Step.SELLER_SUSPENDED,
    Seller.SuspensionLifted: Step.SELLER_LIFTED,
    Notifier.AdmittedToTrustedLane: Step.ADMITTED,
    Notifier.RemovedFromTrustedLane: Step.REMOVED,
    Notifier.WarnedForMisuse: Step.WARNED,
    Notifier.Suspended: Step.NOTIFIER_SUSPENDED,
}
"""The events that record what the policies did, when the system gave them (a supervisor may
give some of them too: those are what people did, input to the policies)."""


def policy_outcome(event: DomainEvent) -> Outcome | None:
    """What the policies did, if the event records it; None for any other event."""
    step = POLICY_EVENTS.get(type(event))
    if step is None or event.actor.kind is not ActorKind.SYSTEM:
        return None
    fields = cast(Any, event)
    if step in (Step.STRIKE, Step.STRIKE_REMOVED):
        key = str(fields.case_id)
    else:
        key = fields.cause or f"{event.originator_id}:{event.originator_version}"
    return Outcome(step, event.originator_id, key, event.timestamp, getattr(event, "until", None))


def identity_of(command: Command) -> Identity:
    """The outcome a command gives once carried out."""
    if isinstance(command, RecordStrike):
        seller = Seller.id_for(command.marketplace, command.seller_ref)
        return (Step.STRIKE, seller, str(command.case_id))
    if isinstance(command, RemoveStrike):
        return (Step.STRIKE_REMOVED, command.seller_id, str(command.case_id))
    if isinstance(command, SuspendSeller):
        return (Step.SELLER_SUSPENDED, command.seller_id, command.cause)
    if isinstance(command, LiftSellerSuspension):
        return (Step.SELLER_LIFTED, command.seller_id, command.cause)
    if isinstance(command, AdmitToTrustedLane):
        return (Step.ADMITTED, command.notifier_id, command.cause)
    if isinstance(command, RemoveFromTrustedLane):
        return (Step.REMOVED, command.notifier_id, command.cause)
    if isinstance(command, WarnNotifier):
        return (Step.WARNED, command.notifier_id, command.cause)
    return (Step.NOTIFIER_SUSPENDED, command.notifier_id, command.cause)


# -- carrying commands out on the view alone -----------------------------------------------------


class Verdict(Enum):
    """How the aggregate would meet a command (consumers/policies.py `carry_out`)."""

    DONE = "done"
    ALREADY = "already done"
    """Refused as already done: the runner settles its view all the same."""
    REFUSED = "refused"


def seller_verdict(
    command: SellerCommand, seller: SellerRecord, at: datetime, rules: Rules
) -> Verdict:
    """What the seller aggregate would say to the command at `at` (domain/seller.py's guards)."""
    if isinstance(command, RecordStrike):
        struck = seller.has_struck(command.case_id, command.notice_id)
        return Verdict.ALREADY if struck else Verdict.DONE
    if isinstance(command, RemoveStrike):
        if command.case_id in seller.strikes:
            return Verdict.DONE
        return Verdict.ALREADY if command.case_id in seller.removed else Verdict.REFUSED
    if isinstance(command, SuspendSeller):
        refused = (
            seller.is_suspended(at)
            or command.until <= at
            or seller.live(at) < rules.strikes_to_suspend
        )
        return Verdict.REFUSED if refused else Verdict.DONE
    return Verdict.DONE if seller.is_suspended(at) else Verdict.ALREADY


def standing_after(
    command: Command, standing: Standing, at: datetime, rules: Rules
) -> Standing | None:
    """The standing once the notifier aggregate carried the command out at `at`, as
    domain/notifier.py and the application (its re-apply date and suspension term) would; None
    when it would refuse it or find it already done."""
    if isinstance(command, AdmitToTrustedLane):
        waiting = standing.may_reapply_on is not None and at.date() < standing.may_reapply_on
        if standing.in_lane or waiting or standing.is_suspended(at):
            return None
        return replace(standing, in_lane=True, may_reapply_on=None)
    if isinstance(command, RemoveFromTrustedLane):
        if not standing.in_lane:
            return None
        reapply = (at + timedelta(days=rules.trusted_reapply_days)).date()
        return replace(standing, in_lane=False, may_reapply_on=reapply)
    if isinstance(command, WarnNotifier):
        return replace(standing, warned_at=at)
    if isinstance(command, SuspendNotifier) and standing.warned_at is not None:
        until = at + timedelta(days=rules.misuse_suspension_days)
        return replace(standing, in_lane=False, warned_at=None, suspended_until=until)
    return None


# -- the replay ----------------------------------------------------------------------------------


@dataclass
class Replay:
    """Feeds events to the decisions and carries their commands out on an in-memory view.

    Before `since` the rules in force decide, from it on the proposed ones: the history up to
    `since` replays as it happened, and the proposed rules take over from there."""

    now: Rules
    rules: Rules
    since: datetime | None = None
    moments: Mapping[Identity, datetime] = field(default_factory=dict)
    """When the policies actually gave each of their outcomes."""
    outcomes: list[Outcome] = field(default_factory=list)
    names: dict[UUID, str] = field(default_factory=dict)
    events: int = 0
    view: MemoryPolicyStore = field(init=False)
    """The policy view, in memory; its window spans both rules' trailing windows."""

    def __post_init__(self) -> None:
        window = max(self.now.trusted_window_days, self.rules.trusted_window_days)
        self.view = MemoryPolicyStore(window)

    def feed(self, page: Sequence[tuple[int, DomainEvent]], through: int) -> None:
        """Replay one page of the log (notification id and event, in order)."""
        inputs = [(seq, event) for seq, event in page if policy_outcome(event) is None]
        self.view.apply(inputs, self.react, through)

    def rules_at(self, moment: datetime) -> Rules:
        """The rules that decide an event of this moment."""
        return self.rules if self.since is None or moment >= self.since else self.now

    def react(self, event: DomainEvent, view: PolicyBatch) -> None:
        """One event: move the view, then carry out what the policies decide."""
        self.events += 1
        self._note_name(event)
        observe(event, view)
        rules = self.rules_at(event.timestamp)
        for command in decide(event, view, rules):
            self.carry_out(command, view, event.timestamp, rules)

    def carry_out(
        self, command: Command, view: PolicyBatch, cause_at: datetime, rules: Rules
    ) -> None:
        """Give one command to the view, as the runner settles its view after the aggregate."""
        step, subject, key = identity = identity_of(command)
        at = self.moments.get(identity, cause_at)
        until: datetime | None = None
        if isinstance(command, SELLER_COMMANDS):
            seller = view.seller(subject)
            verdict = seller_verdict(command, seller, at, rules)
            if verdict is not Verdict.REFUSED:
                view.put_seller(seller.settled(command))
            if isinstance(command, RecordStrike):
                self.names.setdefault(subject, f"{command.marketplace}/{command.seller_ref}")
            if isinstance(command, SuspendSeller):
                until = command.until
            done = verdict is Verdict.DONE
        else:
            after = standing_after(command, view.standing(subject), at, rules)
            if after is not None:
                view.put_standing(after)
                until = after.suspended_until if step is Step.NOTIFIER_SUSPENDED else None
            done = after is not None
        if done:
            self.outcomes.append(Outcome(step, subject, key, at, until))

    def _note_name(self, event: DomainEvent) -> None:
        if isinstance(event, Notifier.Registered):
            self.names[event.originator_id] = event.name
        elif isinstance(event, Seller.Registered):
            self.names[event.originator_id] = f"{event.marketplace}/{event.seller_ref}"


# -- the comparison ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SellerChange:
    """A seller whose strikes or suspensions differ under the proposed rules."""

    seller_id: UUID
    name: str
    happened: tuple[Outcome, ...]
    would: tuple[Outcome, ...]

    def count(self, step: Step) -> tuple[int, int]:
        """How many of the step happened, and how many would have."""
        return (_count(self.happened, step), _count(self.would, step))

    def suspensions(self) -> tuple[tuple[Outcome, ...], tuple[Outcome, ...]]:
        """The suspensions that happened, and those that would have."""
        return (_of(self.happened, Step.SELLER_SUSPENDED), _of(self.would, Step.SELLER_SUSPENDED))

    @property
    def verdict(self) -> str:
        """The change in words."""
        happened, would = self.suspensions()
        if happened and not would:
            return "spared suspension"
        if would and not happened:
            return "would have been suspended"
        if {o.key for o in happened} != {o.key for o in would}:
            return "suspended at other times"
        return "other strikes"


@dataclass(frozen=True, slots=True)
class NotifierChange:
    """One step on a notifier that happened and would not have, would have and did not, or
    would have at another moment."""

    notifier_id: UUID
    name: str
    step: Step
    happened: Outcome | None
    would: Outcome | None

    @property
    def verdict(self) -> str:
        """The change in words."""
        if self.happened is None:
            return f"would have {_past(self.step)}"
        if self.would is None:
            return f"would not have {_past(self.step)}"
        return f"would have {_past(self.step)} at another moment"


def _past(step: Step) -> str:
    return {
        Step.ADMITTED: "entered the trusted lane",
        Step.REMOVED: "left the trusted lane",
        Step.WARNED: "been warned for misuse",
        Step.NOTIFIER_SUSPENDED: "been suspended for misuse",
    }.get(step, step.label)


def _of(outcomes: Iterable[Outcome], step: Step) -> tuple[Outcome, ...]:
    return tuple(o for o in outcomes if o.step is step)


def _count(outcomes: Iterable[Outcome], step: Step) -> int:
    return sum(1 for o in outcomes if o.step is step)


@dataclass(frozen=True)
class WhatIf:
    """What the policies did, and what they would have done under the proposed rules."""

    now: Rules
    rules: Rules
    since: datetime | None
    events: int
    """Events replayed."""
    happened: tuple[Outcome, ...]
    would: tuple[Outcome, ...]
    names: Mapping[UUID, str]

    @property
    def changed_rules(self) -> dict[str, tuple[Any, Any]]:
        """Each rule given another value: its value in force, and the proposed one."""
        now, proposed = self.now.model_dump(), self.rules.model_dump()
        return {name: (now[name], proposed[name]) for name in now if now[name] != proposed[name]}

    @property
    def same(self) -> bool:
        """The proposed rules change nothing the policies did."""
        return _identities(self.happened) == _identities(self.would)

    def counts(self) -> dict[Step, tuple[int, int]]:
        """Per step, how many happened and how many would have."""
        happened = Counter(o.step for o in self.happened)
        would = Counter(o.step for o in self.would)
        return {step: (happened[step], would[step]) for step in Step}

    def sellers(self) -> list[SellerChange]:
        """The sellers whose outcomes differ, by the change in words, then by name."""
        changes = [
            SellerChange(subject, self.name(subject), happened, would)
            for subject, happened, would in self._subjects(SELLER_STEPS)
        ]
        return sorted(changes, key=lambda c: (c.verdict, c.name, str(c.seller_id)))

    def notifiers(self) -> list[NotifierChange]:
        """The notifiers' steps that differ, by notifier and moment."""
        changes: list[NotifierChange] = []
        for subject, happened, would in self._subjects(NOTIFIER_STEPS):
            only_happened, only_would = _apart(happened, would)
            for step in NOTIFIER_STEPS:
                changes += _paired(subject, self.name(subject), step, only_happened, only_would)
        return sorted(changes, key=lambda c: (c.name, _moment(c), str(c.notifier_id)))

    def name(self, subject: UUID) -> str:
        """The seller (marketplace/id) or notifier (its name), or its id if never seen."""
        return self.names.get(subject, str(subject))

    def _subjects(
        self, steps: tuple[Step, ...]
    ) -> Iterable[tuple[UUID, tuple[Outcome, ...], tuple[Outcome, ...]]]:
        happened, would = _by_subject(self.happened, steps), _by_subject(self.would, steps)
        for subject in sorted(happened.keys() | would.keys(), key=str):
            mine, theirs = tuple(happened[subject]), tuple(would[subject])
            if _identities(mine) != _identities(theirs):
                yield subject, mine, theirs


def _identities(outcomes: Iterable[Outcome]) -> set[Identity]:
    return {o.identity for o in outcomes}


def _by_subject(outcomes: Iterable[Outcome], steps: tuple[Step, ...]) -> dict[UUID, list[Outcome]]:
    grouped: dict[UUID, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.step in steps:
            grouped[outcome.subject].append(outcome)
    return grouped


def _apart(
    happened: Sequence[Outcome], would: Sequence[Outcome]
) -> tuple[list[Outcome], list[Outcome]]:
    """Each side's outcomes that the other side lacks."""
    mine, theirs = _identities(happened), _identities(would)
    return (
        [o for o in happened if o.identity not in theirs],
        [o for o in would if o.identity not in mine],
    )


def _paired(
    subject: UUID, name: str, step: Step, happened: Sequence[Outcome], would: Sequence[Outcome]
) -> list[NotifierChange]:
    """The step's unmatched outcomes, the n-th that happened beside the n-th that would have
    (the same step at another moment), the rest alone."""
    mine = sorted(_of(happened, step), key=lambda o: o.at)
    theirs = sorted(_of(would, step), key=lambda o: o.at)
    pairs = [
        NotifierChange(
            subject,
            name,
            step,
            mine[i] if i < len(mine) else None,
            theirs[i] if i < len(theirs) else None,
        )
        for i in range(max(len(mine), len(theirs)))
    ]
    return pairs


def _moment(change: NotifierChange) -> datetime:
    outcome = change.happened or change.would
    assert outcome is not None
    return outcome.at


# -- reading the log -----------------------------------------------------------------------------


def policy_topics() -> list[str]:
    """The stored topics of the events that record what the policies did."""
    return sorted(get_topic(cls) for cls in POLICY_EVENTS)


def what_if(
    app: NtdApplication,
    rules: Rules,
    viewer: Actor,
    since: datetime | None = None,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
    batch_size: int = BATCH_SIZE,
) -> WhatIf:
    """Replay the stored history under `rules` (from `since` on; before it, under the rules in
    force) and set it beside what the policies did; outcomes before `since` are left out of
    both. Reads the event store only, up to its end when the replay starts; the viewer must
    be one who reads every party's standing (supervisors, admins, auditors)."""
    app.may_read(PERMISSION, viewer)
    last = app.recorder.max_notification_id() or 0
    happened = [
        outcome
        for page in _pages(app, last, policy_topics(), page_size)
        for _, event in page
        if (outcome := policy_outcome(event)) is not None
    ]
    replay = Replay(app.rules, rules, since, {o.identity: o.at for o in happened})
    batch: list[tuple[int, DomainEvent]] = []
    for page in _pages(app, last, sorted(watched_topics()), page_size):
        batch += page
        if len(batch) >= batch_size:
            replay.feed(batch, batch[-1][0])
            batch = []
        if progress is not None:
            progress(page[-1][0], last)
    replay.feed(batch, last)
    if progress is not None:
        progress(last, last)
    would = replay.outcomes
    return WhatIf(
        app.rules,
        rules,
        since,
        replay.events,
        _from(happened, since),
        _from(would, since),
        replay.names,
    )


def _from(outcomes: Iterable[Outcome], since: datetime | None) -> tuple[Outcome, ...]:
    """The outcomes at or after `since`, in time order."""
    chosen = (o for o in outcomes if since is None or o.at >= since)
    return tuple(sorted(chosen, key=lambda o: (o.at, o.step, str(o.subject), o.key)))


def _pages(
    app: NtdApplication, last: int, topics: Sequence[str], page_size: int
) -> Iterator[list[tuple[int, DomainEvent]]]:
    """The log's events of these topics up to `last`, in order, a page at a time."""
    position = 0
    while position < last:
        page = app.recorder.select_notifications(
            start=position + 1, limit=page_size, stop=last, topics=topics
        )
        if not page:
            return
        yield [(n.id, cast(DomainEvent, app.mapper.to_domain_event(n))) for n in page]
        position = page[-1].id
