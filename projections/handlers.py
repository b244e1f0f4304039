"""One handler per event type: each computes its change from the event and says it through a port.

Case state and deadlines are not re-derived here: the domain's own `Transitioned.apply` runs on a
stand-in for the case, so the read side moves and clears deadlines exactly as `Case` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any, cast

from domain.case import Case, Deadline, State, reinstates
from domain.notifier import Notifier
from domain.values import DomainEvent, StatementOfReasons
from projections.arrival import Arrival, arrival
from projections.audit import open_chain, published_type, seal
from projections.models import CaseSummary
from projections.ports import (
    Breach,
    IdentificationRecord,
    IdentificationStep,
    MessageRecord,
    NotifierRecord,
    StepRecord,
    Views,
)

Handler = Callable[[int, Any, Views], None]
_HANDLERS: dict[type[Any], Handler] = {}


class ProjectionError(Exception):
    """An event the read model cannot place; the batch is not applied."""


class VersionGap(ProjectionError):
    """An event beyond the next version of its aggregate: the events between never arrived."""


def handles(*event_classes: type[Any]) -> Callable[[Handler], Handler]:
    """Register a handler for the given event classes (and their subclasses)."""

    def register(handler: Handler) -> Handler:
        for event_class in event_classes:
            _HANDLERS[event_class] = handler
        return handler

    return register


def project(seq: int, event: DomainEvent, views: Views) -> bool:
    """Apply one event, with its notification id, to every view; False if the views already
    hold it (a re-sent message), VersionGap if they lack an earlier event of its aggregate.

    The audit chain's head is the last version of the aggregate the views applied: every
    published event advances it, in the same transaction as the rows it changed."""
    kind = published_type(type(event))
    if kind is not None:
        chain = views.chain(event.originator_id)
        held = chain.head_version if chain is not None else 0
        verdict = arrival(event.originator_version, held)
        if verdict is Arrival.DUPLICATE:
            return False
        if verdict is Arrival.GAP:
            raise VersionGap(_gap(kind, event, held))
    for handler in handlers_for(type(event)):
        handler(seq, event, views)
    return True


def _gap(kind: str, event: DomainEvent, held: int) -> str:
    version = event.originator_version
    missing = (
        f"version {held + 1}" if held + 1 == version - 1 else f"versions {held + 1}-{version - 1}"
    )
    return (
        f"version gap: the views hold {kind} {event.originator_id} up to version {held} and "
        f"this {type(event).__name__} is version {version}; {missing} never arrived (rebuild "
        "the views from the event store: `ntd projections rebuild --from store`)"
    )


@cache
def handlers_for(event_class: type[Any]) -> tuple[Handler, ...]:
    """The audit handler, then the most specific view handler registered for the class, if any."""
    specific = next((_HANDLERS[c] for c in event_class.__mro__ if c in _HANDLERS), None)
    return (record_audit,) if specific is None else (record_audit, specific)


# -- audit trail -------------------------------------------------------------------------------


def record_audit(seq: int, event: DomainEvent, views: Views) -> None:
    """Every published event becomes one chained row; internal (listing-claim) events do not."""
    aggregate_type = published_type(type(event))
    if aggregate_type is None:
        return
    chain = views.chain(event.originator_id) or open_chain(event, aggregate_type)
    record = seal(seq, event, chain, views.payload(seq))
    views.append(record, chain.advanced(record))


# -- cases -------------------------------------------------------------------------------------


@handles(Case.Filed)
def case_filed(seq: int, event: Case.Filed, views: Views) -> None:
    """A new case row, in state filed."""
    listing = event.listing
    case = CaseSummary(
        case_id=event.originator_id,
        notice_id=event.notice_id,
        notifier_id=event.notifier_id,
        marketplace=listing.marketplace,
        listing_id=listing.listing_id,
        seller_id=listing.seller_id,
        state=State.FILED,
        lane=event.lane,
        filed_at=event.timestamp,
    )
    views.put_case(case)
    views.add_step(step_of(seq, event, case))


@handles(Case.Transitioned)
def case_moved(seq: int, event: Case.Transitioned, views: Views) -> None:
    """Any step of the lifecycle: new state and deadlines, plus the facts the event records."""
    case = views.case(event.originator_id)
    if case is None:
        raise ProjectionError(
            f"{type(event).__name__} at {seq} for unknown case {event.originator_id}"
        )
    changes = follow(case, event)
    changes.update(CASE_FACTS.get(type(event), _no_facts)(event, case))
    if reinstates(event) and case.taken_down_at is not None:
        changes["reversed"] = True
        changes["reversed_at"] = case.reversed_at or event.timestamp
    moved = case.model_copy(update=changes)
    views.put_case(moved)
    views.add_step(step_of(seq, event, moved))
    if isinstance(event, Case.DeadlineMissed):
        views.add_breach(
            Breach(
                seq, case.case_id, case.notifier_id, event.deadline, event.due_at, event.timestamp
            )
        )
    elif isinstance(event, Case.IdentificationRequested):
        views.add_identification(
            IdentificationRecord(
                seq,
                case.case_id,
                case.notifier_id,
                IdentificationStep.REQUESTED,
                event.timestamp,
                event.timestamp,
            )
        )
    elif isinstance(event, Case.IdentificationAnswered):
        views.add_identification(
            IdentificationRecord(
                seq,
                case.case_id,
                case.notifier_id,
                IdentificationStep.ANSWERED,
                event.timestamp,
                case.identification_requested_at or event.timestamp,
                event.verdict,
            )
        )


def step_of(seq: int, event: DomainEvent, case: CaseSummary) -> StepRecord:
    """Where the case stands after the event."""
    return StepRecord(
        seq,
        case.case_id,
        case.notifier_id,
        event.timestamp,
        case.state,
        frozenset(case.deadlines),
    )


@handles(Case.MessagePosted)
def message_posted(seq: int, event: Case.MessagePosted, views: Views) -> None:
    """A message of the case's conversation, kept for unread counts."""
    case = views.case(event.originator_id)
    if case is None:
        raise ProjectionError(f"message at {seq} for unknown case {event.originator_id}")
    views.add_message(
        MessageRecord(
            seq,
            case.case_id,
            event.originator_version,
            case.notifier_id,
            str(event.actor),  # `kind:id`, the role left out: how read marks name people
            event.actor.role,
            event.timestamp,
        )
    )


class _CaseStandIn:
    """Carries what `Case` events assign, so the domain's own apply() can run on it."""

    def __init__(self, case: CaseSummary) -> None:
        self.id = case.case_id
        self.state = case.state
        self.deadlines: dict[Deadline, datetime] = dict(case.deadlines)
        self.missed: list[Deadline] = []
        self.reasons: StatementOfReasons | None = None
        self.taken_down_at: datetime | None = None
        self.counter_noticed = False
        self.litigation = False
        self.identification_request: Any = None
        self.identification: Any = None


def follow(case: CaseSummary, event: Case.Transitioned) -> dict[str, Any]:
    """The case's state and open deadlines after the event, as the domain computes them."""
    stand_in = _CaseStandIn(case)
    try:
        event.apply(cast(Any, stand_in))
    except KeyError:
        raise ProjectionError(
            f"case {case.case_id} is {case.state.value} in the read model: "
            f"cannot apply {type(event).__name__} (step {event.step.value})"
        ) from None
    return {"state": stand_in.state, "deadlines": stand_in.deadlines}


def _no_facts(event: Any, case: CaseSummary) -> dict[str, Any]:
    return {}


def _taken_down(event: Case.TakenDown, case: CaseSummary) -> dict[str, Any]:
    return {"taken_down_at": event.timestamp}


def _declined(event: Case.Declined, case: CaseSummary) -> dict[str, Any]:
    return {"declined_at": event.timestamp}


def _counter_noticed(event: Case.CounterNoticed, case: CaseSummary) -> dict[str, Any]:
    return {"counter_noticed": True, "counter_noticed_at": event.timestamp}


def _withdrawn(event: Case.Withdrawn, case: CaseSummary) -> dict[str, Any]:
    return {"withdrawn": True, "withdrawn_at": event.timestamp}


def _identification_requested(
    event: Case.IdentificationRequested, case: CaseSummary
) -> dict[str, Any]:
    return {"identification_requested_at": event.timestamp}


def _identified(event: Case.IdentificationAnswered, case: CaseSummary) -> dict[str, Any]:
    return {"identification_answered_at": event.timestamp, "identification_verdict": event.verdict}


CASE_FACTS: dict[type[Any], Callable[[Any, CaseSummary], dict[str, Any]]] = {
    Case.TakenDown: _taken_down,
    Case.Declined: _declined,
    Case.CounterNoticed: _counter_noticed,
    Case.Withdrawn: _withdrawn,
    Case.IdentificationRequested: _identification_requested,
    Case.IdentificationAnswered: _identified,
}
"""What each case event records beyond state and deadlines (and `reinstates`, for any)."""


# -- notifiers ---------------------------------------------------------------------------------


@handles(Notifier.Registered)
def notifier_registered(seq: int, event: Notifier.Registered, views: Views) -> None:
    """A new notifier, outside the trusted lane."""
    views.put_notifier(NotifierRecord(event.originator_id, event.name))


LANE_CHANGES: dict[type[Any], bool] = {
    Notifier.AdmittedToTrustedLane: True,
    Notifier.ManuallyAdmittedToTrustedLane: True,
    Notifier.RemovedFromTrustedLane: False,
    Notifier.Suspended: False,
}
"""The events that move a notifier in or out of the trusted lane: admission on its figures or
by a supervisor's judgement puts it in, removal and suspension both take it out. The figures
as of a past moment read the lane from the last of these before it."""


@handles(*LANE_CHANGES)
def notifier_lane_changed(seq: int, event: DomainEvent, views: Views) -> None:
    """The notifier enters or leaves the trusted lane."""
    notifier = views.notifier(event.originator_id)
    if notifier is None:
        raise ProjectionError(f"lane change at {seq} for unknown notifier {event.originator_id}")
    in_lane = next(v for kind, v in LANE_CHANGES.items() if isinstance(event, kind))
    views.put_notifier(replace(notifier, in_trusted_lane=in_lane))


@handles(Notifier.AccountManagerAssigned)
def account_manager_assigned(
    seq: int, event: Notifier.AccountManagerAssigned, views: Views
) -> None:
    """The notifier's account manager, in place of any earlier one."""
    notifier = views.notifier(event.originator_id)
    if notifier is None:
        raise ProjectionError(f"manager at {seq} for unknown notifier {event.originator_id}")
    views.put_notifier(replace(notifier, account_manager=str(event.manager)))
