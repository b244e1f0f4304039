"""Each view's rows: a summary, breach, notifier or audit chain as the row it is stored as, and
a stored case row back as its summary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.case import Deadline, Lane, State
from projections.audit import AuditChain
from projections.encoding import stamp
from projections.models import CaseSummary
from projections.ports import Breach, NotifierRecord


def case_row(case: CaseSummary) -> tuple[Any, ...]:
    """A case summary as its read_cases row."""
    return (
        str(case.case_id),
        str(case.notice_id),
        str(case.notifier_id),
        case.marketplace,
        case.listing_id,
        case.seller_id,
        case.state.value,
        case.lane.value,
        stamp(case.filed_at),
        stamp(case.taken_down_at) if case.taken_down_at else None,
        stamp(case.declined_at) if case.declined_at else None,
        int(case.counter_noticed),
        int(case.reversed),
        int(case.withdrawn),
    )


def case_from_row(row: Sequence[Any], deadlines: dict[Deadline, datetime]) -> CaseSummary:
    """A stored case row back as a summary; the row was written by case_row, so no validation."""
    (
        case_id,
        notice_id,
        notifier_id,
        market,
        listing,
        seller,
        state,
        lane,
        filed,
        taken,
        declined,
    ) = row[:11]
    return CaseSummary.model_construct(
        case_id=UUID(case_id),
        notice_id=UUID(notice_id),
        notifier_id=UUID(notifier_id),
        marketplace=market,
        listing_id=listing,
        seller_id=seller,
        state=State(state),
        lane=Lane(lane),
        filed_at=datetime.fromisoformat(filed),
        taken_down_at=datetime.fromisoformat(taken) if taken else None,
        declined_at=datetime.fromisoformat(declined) if declined else None,
        counter_noticed=bool(row[11]),
        reversed=bool(row[12]),
        withdrawn=bool(row[13]),
        deadlines=deadlines,
    )


def deadline_rows(case: CaseSummary) -> list[tuple[Any, ...]]:
    """A case's open deadlines as read_deadlines rows."""
    case_id, notifier_id = str(case.case_id), str(case.notifier_id)
    return [(case_id, kind.value, notifier_id, stamp(due)) for kind, due in case.deadlines.items()]


def breach_row(breach: Breach) -> tuple[Any, ...]:
    """A missed deadline as its read_breaches row."""
    return (
        breach.seq,
        str(breach.case_id),
        str(breach.notifier_id),
        breach.deadline.value,
        stamp(breach.due_at),
        stamp(breach.missed_at),
    )


def notifier_row(notifier: NotifierRecord) -> tuple[Any, ...]:
    """A notifier as its read_notifiers row."""
    return (str(notifier.notifier_id), notifier.name, int(notifier.in_trusted_lane))


def chain_row(chain: AuditChain) -> tuple[Any, ...]:
    """An audit chain as its read_audit_chains row."""
    return (
        str(chain.aggregate_id),
        chain.aggregate_type,
        chain.notice_id,
        chain.notifier_id,
        chain.seller_id,
        chain.head_version,
        chain.head_seq,
        chain.head_hash,
    )
