"""A brand's dashboard as aligned text (the CLI's `ntd dashboard` and the demo's report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ntd.cli.render import counts, escape, pairs, plain, sparkline, table
from ntd.formats import DASH, hours, pct, when

PASSED = {
    "review": "reviews overdue",
    "clarification": "clarifications lapsed",
    "restoration": "listings restored",
    "counter_notice": "appeal windows closed",
    "forwarding": "counter-notices not forwarded in time",
    "identification": "identification requests lapsed",
}
"""What a missed deadline of each kind means, as a brand reads it."""


def passed_deadlines(mapping: Mapping[Any, int]) -> str:
    """The dashboard's missed deadlines, named by what they mean, largest first."""
    return counts({PASSED.get(str(plain(k)), str(plain(k))): v for k, v in mapping.items()})


def dashboard_view(d: Any, days: int = 28) -> str:
    """A brand's dashboard as aligned text."""
    per_day = sorted((str(k), int(v)) for k, v in d.filed_per_day.items())
    recent = per_day[-days:]
    filed_line = DASH
    if recent:
        filed_line = (
            f"{sparkline([v for _, v in recent])}  {recent[0][0]} → {recent[-1][0]} "
            f"(last {len(recent)} days with filings; max "
            f"{max(v for _, v in per_day):,}/day)"
        )
    lane = "yes" if d.trusted.in_trusted_lane else "no"
    lines = [
        f"{d.name or '(unknown notifier)'}  (notifier {d.notifier_id})  trusted lane: {lane}",
        f"as of {when(d.as_of)}",
        "",
        pairs(
            [
                ("notices", f"{d.notices:,}"),
                ("cases", f"{d.cases:,}  (one per listing noticed)"),
                ("cases by state", counts(d.cases_by_state)),
                ("filed per day", filed_line),
                ("decided", f"{d.decided:,}"),
                (
                    "taken down",
                    f"{d.taken_down:,}  (takedown rate {pct(d.takedown_rate)} of "
                    "decided, net of reversals)",
                ),
                ("declined", f"{d.declined:,}  ({pct(d.decline_rate)} of decided)"),
                (
                    "time to takedown",
                    f"p50 {hours(d.time_to_takedown_p50_hours)} · "
                    f"p90 {hours(d.time_to_takedown_p90_hours)}",
                ),
                (
                    "counter-noticed",
                    f"{d.counter_noticed:,}  ({pct(d.counter_notice_rate)} of takedowns)",
                ),
                ("reversed", f"{d.reversed:,}  ({pct(d.reversal_rate)} of takedowns)"),
                ("withdrawn", f"{d.withdrawn:,}"),
                ("open deadlines", counts(d.open_deadlines)),
                ("deadlines passed", passed_deadlines(d.breaches)),
            ],
            indent=2,
        ),
    ]
    if d.top_sellers:
        lines += [
            "",
            "top infringing sellers (takedowns net of reversals)",
            table(
                ("SELLER", "MARKETPLACE", "TAKEDOWNS"),
                [(s.seller_id, s.marketplace, s.takedowns) for s in d.top_sellers],
                indent=2,
            ),
        ]
    lines += ["", *needs_action(d), "", *identification(d)]
    t = d.trusted
    verdict = "qualifies" if t.qualifies else "does not qualify"
    lines += [
        "",
        f"trusted-lane standing (last {t.window_days} days)",
        pairs(
            [
                ("window", f"cases filed since {when(t.window_start)}"),
                ("notices", f"{t.notices:,}  ({t.cases:,} cases)"),
                (
                    "settled",
                    f"{t.settled:,}  (at least {t.min_notices:,} decided cases whose "
                    "counter-notice windows have closed)",
                ),
                (
                    "takedown share",
                    f"{pct(t.takedown_share)}  (at least {pct(t.min_takedown_share)}; "
                    f"{t.taken_down - t.reversed:,} of {t.decided:,} decided)",
                ),
                (
                    "reversal share",
                    f"{pct(t.reversal_share)}  (at most {pct(t.max_reversal_share)}; "
                    f"{t.reversed:,} of {t.taken_down:,} takedowns)",
                ),
                ("verdict", f"{verdict}; {'in' if t.in_trusted_lane else 'not in'} the lane"),
            ],
            indent=2,
        ),
    ]
    return escape("\n".join(lines))


def needs_action(d: Any) -> list[str]:
    """The dashboard's "needs your action" section: what awaits the notifier at its time."""
    a = d.needs_action
    items = [
        ("clarifications", f"{a.clarifications:,}  (requests awaiting its answer)"),
        ("identifications", f"{a.identifications:,}  (requests awaiting its verdict)"),
        (
            "counter-notices",
            f"{a.forwarded_counter_notices:,}  (forwarded to it: restored unless it sues)",
        ),
    ]
    if a.unread_messages is not None:
        items.append(("unread messages", f"{a.unread_messages:,}"))
    return ["needs your action (`ntd queue --brand` lists them)", pairs(items, indent=2)]


def identification(d: Any) -> list[str]:
    """The identification figures: requests, answers and how fast, lapses, verdicts."""
    i = d.identification
    answered = (
        f"{i.answered:,}  ({pct(i.answered / i.requested) if i.requested else DASH} of requests)"
    )
    return [
        "authenticity identification",
        pairs(
            [
                ("requested", f"{i.requested:,}  ({i.open:,} open)"),
                ("answered", answered),
                ("median answer time", f"{hours(i.answer_p50_hours)}  (calendar hours)"),
                ("lapsed", f"{i.lapsed:,}  (unanswered by the deadline)"),
                ("verdicts", counts(i.verdicts)),
            ],
            indent=2,
        ),
    ]
