"""Each view's rows: a summary, breach, step, identification, message, notifier or audit chain
as the row it is stored as, and a stored case row back as its summary."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from domain.case import Authenticity, Deadline, Lane, State
from projections.audit import AuditChain
from projections.encoding import canonical_json, stamp
from projections.models import CaseSummary
from projections.ports import (
    Breach,
    IdentificationRecord,
    MessageRecord,
    NotifierRecord,
    StepRecord,
)


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else stamp(moment)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def deadlines_text(deadlines: dict[Deadline, datetime]) -> str:
    """Open deadlines as read_cases keeps them beside the case: JSON, kind to stamped time."""
    return canonical_json({kind.value: stamp(due) for kind, due in deadlines.items()})


def deadlines_from(text: str) -> dict[Deadline, datetime]:
    """`deadlines_text` read back."""
    return {Deadline(k): datetime.fromisoformat(v) for k, v in orjson.loads(text).items()}


def kinds_text(kinds: Collection[Deadline]) -> str:
    """Deadline kinds as a step row keeps them: `,a,b,` (sorted), so that `LIKE '%,a,%'` asks
    for one in SQL."""
    return "," + "".join(f"{kind.value}," for kind in sorted(kinds))


def case_row(case: CaseSummary) -> tuple[Any, ...]:
    """A case summary as its read_cases row."""
    deadlines = case.deadlines
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
        _stamp(case.counter_noticed_at),
        _stamp(case.reversed_at),
        _stamp(case.withdrawn_at),
        _stamp(case.identification_requested_at),
        _stamp(case.identification_answered_at),
        None if case.identification_verdict is None else case.identification_verdict.value,
        stamp(min(deadlines.values())) if deadlines else None,
        deadlines_text(deadlines),
    )


def case_from_row(row: Sequence[Any]) -> CaseSummary:
    """A stored case row (CASE_COLUMNS) back as a summary; the row was written by case_row, so
    no validation."""
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
        deadlines=deadlines_from(row[21]),
        counter_noticed_at=_time(row[14]),
        reversed_at=_time(row[15]),
        withdrawn_at=_time(row[16]),
        identification_requested_at=_time(row[17]),
        identification_answered_at=_time(row[18]),
        identification_verdict=None if row[19] is None else Authenticity(row[19]),
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


def step_row(step: StepRecord) -> tuple[Any, ...]:
    """Where a case stood after an event, as its read_case_steps row."""
    return (
        step.seq,
        str(step.case_id),
        str(step.notifier_id),
        stamp(step.at),
        step.state.value,
        kinds_text(step.deadlines),
    )


def identification_row(record: IdentificationRecord) -> tuple[Any, ...]:
    """An identification request or answer as its read_identifications row."""
    return (
        record.seq,
        str(record.case_id),
        str(record.notifier_id),
        record.step.value,
        stamp(record.at),
        stamp(record.asked_at),
        None if record.verdict is None else record.verdict.value,
    )


def message_row(message: MessageRecord) -> tuple[Any, ...]:
    """A message as its read_messages row."""
    return (
        message.seq,
        str(message.case_id),
        message.version,
        str(message.notifier_id),
        message.author,
        None if message.role is None else message.role.value,
        stamp(message.posted_at),
    )


def notifier_row(notifier: NotifierRecord) -> tuple[Any, ...]:
    """A notifier as its read_notifiers row."""
    return (
        str(notifier.notifier_id),
        notifier.name,
        int(notifier.in_trusted_lane),
        notifier.account_manager,
    )


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
