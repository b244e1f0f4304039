"""The dashboard's figures computed independently of the projections, from the raw events:
the oracle that the read models' dashboards are checked against (in-memory, SQL, via Kafka).

Every figure is as of `now`: only the events up to then count, each case's state and open
deadlines are those of the case aggregate replayed from its events up to then (the domain's own
replay, no projection), and the notifier's lane is the one its last lane event up to then left."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.case import Case, Deadline
from domain.notifier import Notifier
from domain.rules import Rules
from domain.values import DomainEvent

LANE = {
    Notifier.AdmittedToTrustedLane: True,
    Notifier.ManuallyAdmittedToTrustedLane: True,
    Notifier.RemovedFromTrustedLane: False,
    Notifier.Suspended: False,
}
"""What each lane event leaves the notifier as: in the trusted lane, or out of it."""


def replayed(events: Sequence[DomainEvent]) -> Case:
    """The case aggregate after these of its events, replayed by the domain itself."""
    aggregate: Any = None
    for event in events:
        aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
    return aggregate  # type: ignore[no-any-return]


def nearest_rank(values: Sequence[float], p: float) -> float | None:
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered)) - 1] if ordered else None


def dashboard_from_events(
    events: Sequence[DomainEvent],
    notifier_id: UUID,
    now: datetime,
    rules: Rules,
    case: Callable[[UUID], Case] | None = None,
    in_trusted_lane: bool | None = None,
) -> dict[str, Any]:
    """A notifier's dashboard figures worked out plainly from the raw events as they stood at
    `now`. `case` and `in_trusted_lane` (the aggregates and the lane as they are now) are not
    needed any more: the oracle replays the aggregates and the lane up to `now` itself; when
    they are given and `now` is past every event, they must agree with that replay."""
    past = [e for e in events if e.timestamp <= now]
    filed = {
        e.originator_id: e
        for e in past
        if isinstance(e, Case.Filed) and e.notifier_id == notifier_id
    }
    later: dict[UUID, list[DomainEvent]] = defaultdict(list)
    for e in past:
        if e.originator_id in filed:
            later[e.originator_id].append(e)

    def ever(case_id: UUID, kind: type) -> list[Any]:
        return [e for e in later[case_id] if isinstance(e, kind)]

    def reinstated(e: DomainEvent) -> bool:
        if isinstance(e, Case.DeadlineMissed):
            return e.deadline is Deadline.RESTORATION
        return isinstance(e, Case.TakedownReversed | Case.AppealUpheld)

    taken = {c: ever(c, Case.TakenDown)[0] for c in filed if ever(c, Case.TakenDown)}
    declined = {c for c in filed if ever(c, Case.Declined)}
    reversed_ = {c for c in taken if any(reinstated(e) for e in later[c])}
    countered = {c for c in taken if ever(c, Case.CounterNoticed)}
    withdrawn = {c for c in filed if ever(c, Case.Withdrawn)}
    decided = set(taken) | declined
    # Settled, as the trusted lane's minimum counts: declined, or taken down and past the
    # counter-notice window: it closed unused, the appeal was rejected, or the listing is back.
    window_closed = {
        c
        for c in taken
        if any(e.deadline is Deadline.COUNTER_NOTICE for e in ever(c, Case.DeadlineMissed))
    }
    appeal_rejected = {c for c in taken if ever(c, Case.AppealRejected)}
    settled = declined | window_closed | appeal_rejected | reversed_

    def share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    hours = [(taken[c].timestamp - filed[c].timestamp).total_seconds() / 3600 for c in taken]
    aggregates = {c: replayed(later[c]) for c in filed}
    if case is not None and all(e.timestamp <= now for e in events):
        assert all(case(c).state == a.state for c, a in aggregates.items())
    kept = Counter(
        (filed[c].listing.seller_id, filed[c].listing.marketplace)
        for c in taken
        if c not in reversed_
    )
    top = sorted(kept.items(), key=lambda item: (-item[1], item[0][1], item[0][0]))[:5]
    start = now - timedelta(days=rules.trusted_window_days)
    window = {c for c, f in filed.items() if start <= f.timestamp}
    w_taken, w_reversed = window & set(taken), window & reversed_
    w_decided, w_settled = window & decided, window & settled
    takedown_share = share(len(w_taken) - len(w_reversed), len(w_decided))
    reversal_share = share(len(w_reversed), len(w_taken))
    lane_events = [e for e in past if e.originator_id == notifier_id and type(e) in LANE]
    in_lane = LANE[type(lane_events[-1])] if lane_events else False
    if in_trusted_lane is not None and all(e.timestamp <= now for e in events):
        assert in_lane == in_trusted_lane
    open_deadlines = Counter(k for a in aggregates.values() for k in a.deadlines)
    breaches = Counter(e.deadline for c in filed for e in ever(c, Case.DeadlineMissed))
    return {
        "notices": len({f.notice_id for f in filed.values()}),
        "cases": len(filed),
        "cases_by_state": dict(Counter(a.state for a in aggregates.values())),
        "filed_per_day": dict(Counter(f.timestamp.date().isoformat() for f in filed.values())),
        "decided": len(decided),
        "taken_down": len(taken),
        "reversed": len(reversed_),
        "declined": len(declined),
        "counter_noticed": len(countered),
        "withdrawn": len(withdrawn),
        "takedown_rate": share(len(taken) - len(reversed_), len(decided)),
        "decline_rate": share(len(declined), len(decided)),
        "counter_notice_rate": share(len(countered), len(taken)),
        "reversal_rate": share(len(reversed_), len(taken)),
        "time_to_takedown_p50_hours": nearest_rank(hours, 0.5),
        "time_to_takedown_p90_hours": nearest_rank(hours, 0.9),
        "open_deadlines": dict(open_deadlines),
        "breaches": dict(breaches),
        "top_sellers": tuple(
            {"seller_id": seller, "marketplace": market, "takedowns": count}
            for (seller, market), count in top
        ),
        "trusted": {
            "notices": len({filed[c].notice_id for c in window}),
            "cases": len(window),
            "decided": len(w_decided),
            "settled": len(w_settled),
            "taken_down": len(w_taken),
            "reversed": len(w_reversed),
            "takedown_share": takedown_share,
            "reversal_share": reversal_share,
            "qualifies": len(w_settled) >= rules.trusted_min_notices
            and takedown_share is not None
            and takedown_share >= rules.trusted_min_takedown_share
            and (reversal_share or 0.0) <= rules.trusted_max_reversal_share,
            "in_trusted_lane": in_lane,
        },
        "identification": identification_figures(filed, later, open_deadlines, breaches),
        "needs_action": {
            "clarifications": open_deadlines[Deadline.CLARIFICATION],
            "identifications": open_deadlines[Deadline.IDENTIFICATION],
            "forwarded_counter_notices": open_deadlines[Deadline.RESTORATION],
            "unread_messages": None,  # no viewer named
        },
    }


def identification_figures(
    filed: dict[UUID, Any],
    later: dict[UUID, list[DomainEvent]],
    open_deadlines: Counter[Deadline],
    breaches: Counter[Deadline],
) -> dict[str, Any]:
    """Requests, answers (each timed from the request before it, in calendar hours), verdicts,
    lapses and open requests."""
    requested = 0
    answer_hours: list[float] = []
    verdicts: Counter[Any] = Counter()
    for case_id in filed:
        asked: datetime | None = None
        for e in later[case_id]:
            if isinstance(e, Case.IdentificationRequested):
                requested += 1
                asked = e.timestamp
            elif isinstance(e, Case.IdentificationAnswered):
                assert asked is not None, "an answer without a request"
                answer_hours.append((e.timestamp - asked).total_seconds() / 3600)
                verdicts[e.verdict] += 1
    return {
        "requested": requested,
        "answered": len(answer_hours),
        "lapsed": breaches[Deadline.IDENTIFICATION],
        "open": open_deadlines[Deadline.IDENTIFICATION],
        "verdicts": dict(verdicts),
        "answer_p50_hours": nearest_rank(answer_hours, 0.5),
    }
