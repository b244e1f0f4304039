"""How a dashboard is put together from counts, whichever adapter counted them.

Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at rank
ceil(p * n) (1-based), so it is always one of the observed values.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from domain.case import Case, Deadline, State
from domain.catalog import event_type
from domain.figures import lane_verdict
from domain.rules import Rules
from projections.models import CaseSummary, Dashboard, SellerFigure, TrustedFigures

TOP_SELLERS = 5
APPEAL_REJECTED = event_type(Case.AppealRejected)
"""The audit row type that tells a case's appeal was rejected (the case row keeps no flag)."""


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts over a set of cases; every figure is 'ever', e.g. taken down at some point."""

    cases: int = 0
    decided: int = 0
    taken_down: int = 0
    reversed: int = 0
    declined: int = 0
    counter_noticed: int = 0
    withdrawn: int = 0
    settled: int = 0
    """Decided and past the counter-notice window (domain.figures.CaseFacts.settled): declined,
    or taken down and the window closed unused, the appeal rejected or the listing reinstated."""


@dataclass(frozen=True, slots=True)
class Figures:
    """What an adapter counts for one notifier; `assemble` turns it into a Dashboard."""

    notifier_id: UUID
    name: str | None
    in_trusted_lane: bool
    as_of: datetime
    window_start: datetime
    total: Tally
    window: Tally
    cases_by_state: Mapping[State, int]
    filed_per_day: Mapping[str, int]
    hours_to_takedown: Sequence[float]
    open_deadlines: Mapping[Deadline, int]
    breaches: Mapping[Deadline, int]
    top_sellers: Sequence[SellerFigure]


def tally(cases: Iterable[CaseSummary], past_window: Container[UUID] = ()) -> Tally:
    """Count decided, taken-down, reversed... cases in Python (the SQL adapter counts in SQL);
    `past_window` holds the cases whose counter-notice window closed unused or whose appeal was
    rejected."""
    counts = [0] * 8
    for case in cases:
        taken = case.taken_down_at is not None
        declined = case.declined_at is not None
        flags = (
            True,
            taken or declined,
            taken,
            taken and case.reversed,
            declined,
            taken and case.counter_noticed,
            case.withdrawn,
            declined or (taken and (case.reversed or case.case_id in past_window)),
        )
        for index, flag in enumerate(flags):
            counts[index] += flag
    return Tally(*counts)


def window_start(now: datetime, rules: Rules) -> datetime:
    """The start of the trusted-lane window: cases filed in [start, now] count."""
    return now - timedelta(days=rules.trusted_window_days)


def hours_between(start: datetime, end: datetime) -> float:
    """Elapsed hours."""
    return (end - start).total_seconds() / 3600


def percentile(values: Iterable[float], share: float) -> float | None:
    """Nearest-rank percentile (share in (0, 1]); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when whole is 0."""
    return part / whole if whole else None


def top_sellers(figures: Iterable[SellerFigure]) -> tuple[SellerFigure, ...]:
    """Most takedowns first, then by marketplace and seller id; sellers at 0 left out."""
    ranked = sorted(
        (f for f in figures if f.takedowns > 0),
        key=lambda f: (-f.takedowns, f.marketplace, f.seller_id),
    )
    return tuple(ranked[:TOP_SELLERS])


def trusted(figures: Figures, rules: Rules) -> TrustedFigures:
    """The windowed standing and whether it meets the lane's thresholds."""
    window = figures.window
    takedown_share = ratio(window.taken_down - window.reversed, window.decided)
    reversal_share = ratio(window.reversed, window.taken_down)
    verdict = lane_verdict(window.settled, takedown_share, reversal_share, rules)
    return TrustedFigures(
        window_days=rules.trusted_window_days,
        window_start=figures.window_start,
        notices=window.cases,
        decided=window.decided,
        settled=window.settled,
        taken_down=window.taken_down,
        reversed=window.reversed,
        takedown_share=takedown_share,
        reversal_share=reversal_share,
        min_takedown_share=rules.trusted_min_takedown_share,
        max_reversal_share=rules.trusted_max_reversal_share,
        min_notices=rules.trusted_min_notices,
        qualifies=verdict.qualifies,
        in_trusted_lane=figures.in_trusted_lane,
    )


def assemble(figures: Figures, rules: Rules) -> Dashboard:
    """The dashboard of one notifier from its counted figures."""
    total = figures.total
    return Dashboard(
        notifier_id=figures.notifier_id,
        name=figures.name,
        as_of=figures.as_of,
        cases=total.cases,
        cases_by_state=dict(figures.cases_by_state),
        filed_per_day=dict(sorted(figures.filed_per_day.items())),
        decided=total.decided,
        taken_down=total.taken_down,
        reversed=total.reversed,
        declined=total.declined,
        counter_noticed=total.counter_noticed,
        withdrawn=total.withdrawn,
        takedown_rate=ratio(total.taken_down - total.reversed, total.decided),
        decline_rate=ratio(total.declined, total.decided),
        counter_notice_rate=ratio(total.counter_noticed, total.taken_down),
        reversal_rate=ratio(total.reversed, total.taken_down),
        time_to_takedown_p50_hours=percentile(figures.hours_to_takedown, 0.5),
        time_to_takedown_p90_hours=percentile(figures.hours_to_takedown, 0.9),
        open_deadlines=dict(figures.open_deadlines),
        breaches=dict(figures.breaches),
        top_sellers=top_sellers(figures.top_sellers),
        trusted=trusted(figures, rules),
    )
