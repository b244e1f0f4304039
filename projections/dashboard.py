"""How a dashboard is put together from counts, whichever adapter counted them.

Every figure is as of the dashboard's time: a case counts once filed by then, a fact once it
happened by then (a takedown, a reversal, a missed deadline...), and states and open deadlines
are those after the case's last event by then. Rows written before a fact's time was kept (the
read models of older versions) hold the flag without the time: such a fact counts at any time.

Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at rank
ceil(p * n) (1-based), so it is always one of the observed values.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from domain.case import Authenticity, Case, Deadline, State
from domain.catalog import event_type
from domain.figures import lane_verdict
from domain.rules import Rules
from projections.encoding import stamp
from projections.handlers import LANE_CHANGES
from projections.models import (
    ActionFigures,
    CaseSummary,
    Dashboard,
    IdentificationFigures,
    SellerFigure,
    TrustedFigures,
)

TOP_SELLERS = 5
APPEAL_REJECTED = event_type(Case.AppealRejected)
"""The audit row type that tells a case's appeal was rejected (the case row keeps no flag)."""
LANE_EVENTS = {event_type(kind): in_lane for kind, in_lane in LANE_CHANGES.items()}
"""Audit row types that move a notifier in (True) or out of the trusted lane."""


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts over a set of cases; every figure is 'by then', e.g. taken down at some point
    up to the figures' time."""

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
    notices: int = 0
    """Distinct notices among the cases."""


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
    """Deadlines open at the figures' time."""
    breaches: Mapping[Deadline, int]
    top_sellers: Sequence[SellerFigure]
    identifications_requested: int = 0
    identification_answers: Sequence[tuple[Authenticity, float]] = field(default_factory=tuple)
    """Each answer by then: its verdict and the calendar hours since its request."""
    unread_messages: int | None = None


def happened(moment: datetime | None, at: datetime) -> bool:
    """Whether something that happened at `moment` (None: never) had happened by `at`."""
    return moment is not None and moment <= at


def holds(flag: bool, since: datetime | None, at: datetime) -> bool:
    """Whether a flag set `since` then held at `at`; a row that kept no time (written before
    the time was kept) holds it at any time."""
    return flag and (since is None or since <= at)


def tally(
    cases: Iterable[CaseSummary], at: datetime, past_window: Mapping[UUID, datetime] | None = None
) -> Tally:
    """Count decided, taken-down, reversed... cases as they stood at `at`, in Python (the SQL
    adapter counts in SQL); `past_window` tells when a case's counter-notice window closed
    unused or its appeal was rejected. The cases given are those filed by then."""
    closed = past_window or {}
    counts = [0] * 8
    notices: set[UUID] = set()
    for case in cases:
        notices.add(case.notice_id)
        taken = happened(case.taken_down_at, at)
        declined = happened(case.declined_at, at)
        undone = taken and holds(case.reversed, case.reversed_at, at)
        flags = (
            True,
            taken or declined,
            taken,
            undone,
            declined,
            taken and holds(case.counter_noticed, case.counter_noticed_at, at),
            holds(case.withdrawn, case.withdrawn_at, at),
            declined or (taken and (undone or happened(closed.get(case.case_id), at))),
        )
        for index, flag in enumerate(flags):
            counts[index] += flag
    return replace(Tally(*counts), notices=len(notices))


def kept_takedown(case: CaseSummary, at: datetime) -> bool:
    """Taken down by `at` and not reinstated by then: a takedown that counts for its seller."""
    return happened(case.taken_down_at, at) and not holds(case.reversed, case.reversed_at, at)


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
        notices=window.notices,
        cases=window.cases,
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
        notices=total.notices,
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
        identification=identification(figures),
        needs_action=ActionFigures(
            clarifications=figures.open_deadlines.get(Deadline.CLARIFICATION, 0),
            identifications=figures.open_deadlines.get(Deadline.IDENTIFICATION, 0),
            forwarded_counter_notices=figures.open_deadlines.get(Deadline.RESTORATION, 0),
            unread_messages=figures.unread_messages,
        ),
    )


def identification(figures: Figures) -> IdentificationFigures:
    """The identification figures: requests, answers and their verdicts, lapses, open ones."""
    answers = figures.identification_answers
    return IdentificationFigures(
        requested=figures.identifications_requested,
        answered=len(answers),
        lapsed=figures.breaches.get(Deadline.IDENTIFICATION, 0),
        open=figures.open_deadlines.get(Deadline.IDENTIFICATION, 0),
        verdicts=dict(Counter(verdict for verdict, _ in answers)),
        answer_p50_hours=percentile((hours for _, hours in answers), 0.5),
    )


def lane_at(changes: Iterable[tuple[int, str, str]], at: datetime) -> bool | None:
    """Whether the notifier was in the trusted lane at `at`, from its lane-changing audit rows
    (seq, event type, stamped time); None when none happened by then."""
    moment = stamp(at)
    last = max(((seq, kind) for seq, kind, when in changes if when <= moment), default=None)
    return None if last is None else LANE_EVENTS[last[1]]
