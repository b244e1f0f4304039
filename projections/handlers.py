"""One handler per event type: each computes its change from the event and says it through a port.

Case state and deadlines are not re-derived here: the domain's own `Transitioned.apply` runs on a
stand-in for the case, so the read side moves and clears deadlines exactly as `Case` does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from domain.case import Case, Deadline, State, reinstates
from domain.notifier import Notifier
from domain.values import DomainEvent, StatementOfReasons
from projections.arrival import Arrival, arrival
from projections.audit import open_chain, published_type, seal
from projections.models import CaseSummary
from projections.ports import Breach, NotifierRecord, Views

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
    views.put_case(
        CaseSummary(
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
    )


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
    if reinstates(event):
        changes["reversed"] = case.taken_down_at is not None
    views.put_case(case.model_copy(update=changes))
    if isinstance(event, Case.DeadlineMissed):
        views.add_breach(
            Breach(
                seq, case.case_id, case.notifier_id, event.deadline, event.due_at, event.timestamp
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
    return {"counter_noticed": True}


def _withdrawn(event: Case.Withdrawn, case: CaseSummary) -> dict[str, Any]:
    return {"withdrawn": True}


CASE_FACTS: dict[type[Any], Callable[[Any, CaseSummary], dict[str, Any]]] = {
    Case.TakenDown: _taken_down,
    Case.Declined: _declined,
    Case.CounterNoticed: _counter_noticed,
    Case.Withdrawn: _withdrawn,
}
"""What each case event records beyond state and deadlines (and `reinstates`, for any)."""


# -- notifiers ---------------------------------------------------------------------------------


@handles(Notifier.Registered)
def notifier_registered(seq: int, event: Notifier.Registered, views: Views) -> None:
    """A new notifier, outside the trusted lane."""
    views.put_notifier(NotifierRecord(event.originator_id, event.name))


@handles(Notifier.AdmittedToTrustedLane, Notifier.ManuallyAdmittedToTrustedLane)
def notifier_admitted(seq: int, event: DomainEvent, views: Views) -> None:
    """The notifier enters the trusted lane, on its figures or by a supervisor's judgement."""
    _set_lane(seq, event.originator_id, True, views)


@handles(Notifier.RemovedFromTrustedLane, Notifier.Suspended)
def notifier_left_lane(seq: int, event: DomainEvent, views: Views) -> None:
    """Removal and suspension both take the notifier out of the trusted lane."""
    _set_lane(seq, event.originator_id, False, views)


def _set_lane(seq: int, notifier_id: UUID, in_lane: bool, views: Views) -> None:
    notifier = views.notifier(notifier_id)
    if notifier is None:
        raise ProjectionError(f"lane change at {seq} for unknown notifier {notifier_id}")
    views.put_notifier(NotifierRecord(notifier.notifier_id, notifier.name, in_lane))
