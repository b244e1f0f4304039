"""The dashboard's figures computed independently of the projections, from the raw events:
the oracle that the read models' dashboards are checked against (in-memory, SQL, via Kafka)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.case import Case, Deadline
from domain.rules import Rules
from domain.values import DomainEvent


def dashboard_from_events(
    events: Sequence[DomainEvent],
    notifier_id: UUID,
    now: datetime,
    rules: Rules,
    case: Callable[[UUID], Case],
    in_trusted_lane: bool,
) -> dict[str, Any]:
    """A notifier's dashboard figures worked out plainly from the raw events, with states and
    open deadlines from the case aggregates (`case`) as the domain replays them."""
    filed = {
        e.originator_id: e
        for e in events
        if isinstance(e, Case.Filed) and e.notifier_id == notifier_id
    }
    later: dict[UUID, list[DomainEvent]] = defaultdict(list)
    for e in events:
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

    hours = sorted((taken[c].timestamp - filed[c].timestamp).total_seconds() / 3600 for c in taken)

    def nearest_rank(p: float) -> float | None:
        return hours[math.ceil(p * len(hours)) - 1] if hours else None

    aggregates = {c: case(c) for c in filed}
    kept = Counter(
        (filed[c].listing.seller_id, filed[c].listing.marketplace)
        for c in taken
        if c not in reversed_
    )
    top = sorted(kept.items(), key=lambda item: (-item[1], item[0][1], item[0][0]))[:5]
    start = now - timedelta(days=rules.trusted_window_days)
    window = {c for c, f in filed.items() if start <= f.timestamp <= now}
    w_taken, w_reversed = window & set(taken), window & reversed_
    w_decided, w_settled = window & decided, window & settled
    takedown_share = share(len(w_taken) - len(w_reversed), len(w_decided))
    reversal_share = share(len(w_reversed), len(w_taken))
    return {
        "cases": len(filed),
        "cases_by_state": dict(Counter(case.state for case in aggregates.values())),
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
        "time_to_takedown_p50_hours": nearest_rank(0.5),
        "time_to_takedown_p90_hours": nearest_rank(0.9),
        "open_deadlines": dict(Counter(k for case in aggregates.values() for k in case.deadlines)),
        "breaches": dict(Counter(e.deadline for c in filed for e in ever(c, Case.DeadlineMissed))),
        "top_sellers": tuple(
            {"seller_id": seller, "marketplace": market, "takedowns": count}
            for (seller, market), count in top
        ),
        "trusted": {
            "notices": len(window),
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
            "in_trusted_lane": in_trusted_lane,
        },
    }
