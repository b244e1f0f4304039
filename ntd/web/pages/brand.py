"""A brand's pages: choosing the notifier, its dashboard with charts, and its case list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from domain.case import Lane
from domain.lifecycle import State
from domain.values import TimeRange
from ntd import reads
from ntd.bootstrap import Ntd
from ntd.web import charts, forms
from ntd.web.forms import FormInvalid
from ntd.web.pages.common import (
    LANE_CHOICES,
    PAGE_SIZE,
    STATE_CHOICES,
    CurrentUser,
    User,
    as_is,
    brand_nav,
    notifiers,
    now_of,
    pager,
    router,
    rule,
    status,
)
from ntd.web.runtime import portal
from ntd.web.templating import render
from projections.models import Dashboard, NeedsAction

DEFAULT_DAYS = 28
MAX_DAYS = 5 * 366
"""The longest range a dashboard charts: its reads and sampled days stay bounded."""
ACTION_LABELS = {
    NeedsAction.CLARIFICATION: "Answer the clarification request",
    NeedsAction.IDENTIFICATION: "Say whether the goods are genuine",
    NeedsAction.COUNTER_NOTICE: "Counter-notice forwarded: report litigation or it is restored",
    NeedsAction.MESSAGES: "Read the new messages",
}
"""What each needs-action item asks of the brand (the CLI's `ntd queue --brand` wording)."""


@dataclass(frozen=True, slots=True)
class NotifierChoice:
    notifier_id: UUID
    name: str


def _choose(request: Request, user: CurrentUser, suffix: str) -> Response:
    """A user acting for one notifier goes to its page; one acting for several (a registered
    agent, or the staff) picks one."""
    if len(user.notifier_ids) == 1:
        return RedirectResponse(f"/brand/{user.notifier_ids[0]}{suffix}", status_code=303)
    here = portal(request)
    with here.ntd() as ntd:
        known = notifiers(here, ntd, user)
    choices = [NotifierChoice(i, name) for i, name in known]
    context = {"title": "Choose a notifier", "notifiers": choices, "suffix": suffix}
    return render(request, "brand_choose.html", context)


@router.get("/brand", openapi_extra=rule("read_dashboard"))
def brand_home(request: Request, user: CurrentUser) -> Response:
    return _choose(request, user, "")


@router.get("/brand/notice", openapi_extra=rule("file_notice"))
def brand_notice_home(request: Request, user: CurrentUser) -> Response:
    return _choose(request, user, "/notice")


# -- the dashboard ---------------------------------------------------------------------------------


def _range(
    request: Request, today: date, years: TimeRange
) -> tuple[date, date, dict[str, str], FormInvalid]:
    """The dashboard's date range from `from` and `to` (ISO dates); the last 28 days by
    default, and by default where a value is wrong (the problem shown by its field). A range
    stays within the years ntd accepts and spans at most MAX_DAYS."""
    bad = FormInvalid()
    values = {k: request.query_params.get(k, "").strip() for k in ("from", "to")}
    first, last = date(years.first_year, 1, 1), date(years.last_year, 12, 31)

    def day(name: str, default: date) -> date:
        if not values[name]:
            return default
        try:
            chosen = date.fromisoformat(values[name])
        except ValueError:
            bad.add(name, f"{values[name]!r} is not an ISO date (e.g. {today.isoformat()})")
            return default
        if not first <= chosen <= last:
            bad.add(name, f"must be a day from {first} to {last}")
            return default
        return chosen

    end = day("to", min(max(today, first), last))
    start = day("from", end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        bad.add("from", "must not be after `to`")
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    elif (end - start).days >= MAX_DAYS:
        bad.add("from", f"a range spans at most {MAX_DAYS} days")
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    values = {"from": start.isoformat(), "to": end.isoformat()}
    return start, end, values, bad


def _end_of(day: date, now: datetime) -> datetime:
    """The last moment of a day (UTC), or now for today and later: figures as of then."""
    end = datetime.combine(day + timedelta(days=1), time(), UTC) - timedelta(microseconds=1)
    return min(end, now)


@dataclass(frozen=True, slots=True)
class ChartView:
    """A chart and the same figures as a table (for those who do not see the picture)."""

    title: str
    svg: Any
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@router.get("/brand/{notifier_id}", openapi_extra=rule("read_dashboard"))
def brand_dashboard(request: Request, notifier_id: UUID, user: CurrentUser) -> Response:
    """The brand's figures as of the end of the range, its charts over the range, what needs
    its action and its trusted-lane standing."""
    here = portal(request)
    with here.ntd() as ntd:
        now = now_of(ntd)
        start, end, values, bad = _range(request, now.date(), here.settings.time_range)
        until = _end_of(end, now)
        board = reads.dashboard(ntd, user.actor, notifier_id, until, here.caught_up)
        actions = reads.needs_action(ntd, user.actor, notifier_id, as_is)
        rates = [
            (day.isoformat(), _rate_at(ntd, user, notifier_id, _end_of(day, now)))
            for day in charts.sample_days(start, end)
        ]
        since = datetime.combine(start, time(), UTC)
        took = reads.takedown_hours(ntd, user.actor, notifier_id, since, until, as_is)
        known = notifiers(here, ntd, user)
    context = {
        "title": f"Dashboard · {board.name or notifier_id}",
        "board": board,
        "actions": actions,
        "action_labels": ACTION_LABELS,
        "charts": _charts(board, start, end, rates, took),
        "now": now,
        "values": values,
        "errors": bad.errors,
        **brand_nav(notifier_id, board.name, known),
    }
    return render(request, "brand_dashboard.html", context, status_code=status(bad))


def _rate_at(ntd: Ntd, user: User, notifier_id: UUID, at: datetime) -> float | None:
    """The takedown rate as the dashboard computes it, as of `at`: the rule stays there."""
    return reads.dashboard(ntd, user.actor, notifier_id, at, as_is).takedown_rate


def _charts(
    board: Dashboard,
    start: date,
    end: date,
    rates: Sequence[tuple[str, float | None]],
    took: Sequence[float],
) -> list[ChartView]:
    filed = charts.filings_series(board.filed_per_day, start, end)
    spread = charts.hours_histogram(took)
    sellers = [(f"{s.seller_id} ({s.marketplace})", float(s.takedowns)) for s in board.top_sellers]
    span = f"{start.isoformat()} to {end.isoformat()}"
    return [
        ChartView(
            "Filings per day",
            charts.bar_chart(
                charts.Chart("filed", "Cases filed per day", f"Cases filed each day, {span}"),
                [(label, float(count)) for label, count in filed],
            ),
            ("Day", "Cases filed"),
            [(label, count) for label, count in filed],
        ),
        ChartView(
            "Takedown rate over time",
            charts.line_chart(
                charts.Chart(
                    "rate",
                    "Takedown rate",
                    f"Share of decided cases taken down (net of reversals) as of each day, {span}",
                ),
                rates,
            ),
            ("As of", "Takedown rate"),
            [(label, "—" if rate is None else f"{rate * 100:.1f} %") for label, rate in rates],
        ),
        ChartView(
            "Time to takedown",
            charts.bar_chart(
                charts.Chart(
                    "ttt",
                    "Time from filing to takedown",
                    f"How many cases filed {span} were taken down within each span of time",
                ),
                [(label, float(count)) for label, count in spread],
            ),
            ("Time to takedown", "Cases"),
            list(spread),
        ),
        ChartView(
            "Top sellers",
            charts.hbar_chart(
                charts.Chart(
                    "sellers",
                    "Top infringing sellers",
                    "Takedowns per seller, net of reversals, largest first",
                ),
                sellers,
            ),
            ("Seller", "Takedowns"),
            [(label, int(count)) for label, count in sellers],
        ),
    ]


# -- the case list ---------------------------------------------------------------------------------


def _case_filters(request: Request) -> tuple[reads.CaseFilters, dict[str, Any], FormInvalid]:
    """The list's filters from the query (state repeatable, lane, due_before, cursor)."""
    bad = FormInvalid()
    query = request.query_params
    states = []
    for value in query.getlist("state"):
        if value in {s.value for s in State}:
            states.append(State(value))
        else:
            bad.add("state", f"{value!r} is not a state")
    lane = query.get("lane", "").strip()
    if lane and lane not in (x.value for x in Lane):
        bad.add("lane", f"{lane!r} is not a lane (normal or trusted)")
    due = forms.optional_time(query.get("due_before", ""), "due_before", bad)
    values = {"lane": lane, "due_before": query.get("due_before", "").strip()}
    filters = reads.CaseFilters(
        states=tuple(states),
        lane=Lane(lane) if lane and "lane" not in bad.errors else None,
        due_before=due,
        limit=PAGE_SIZE,
        cursor=query.get("cursor") or None,
    )
    return filters, values, bad


@router.get("/brand/{notifier_id}/cases", openapi_extra=rule("read_cases"))
def brand_cases(request: Request, notifier_id: UUID, user: CurrentUser) -> Response:
    """The brand's cases, the latest filed first, filtered, a page at a time."""
    here = portal(request)
    filters, values, bad = _case_filters(request)
    with here.ntd() as ntd:
        filters = filters.model_copy(update={"notifier_id": notifier_id})
        page = reads.case_lines(ntd, user.actor, filters, here.caught_up)
        known = notifiers(here, ntd, user)
        now = now_of(ntd)
    name = next((n for i, n in known if i == notifier_id), None)
    context = {
        "title": f"Cases · {name or notifier_id}",
        "lines": page.lines,
        "states": STATE_CHOICES,
        "lanes": LANE_CHOICES,
        "chosen_states": [s.value for s in filters.states],
        "values": values,
        "errors": bad.errors,
        "now": now,
        **brand_nav(notifier_id, name, known),
        **pager(request.url.path, request, page.next_cursor),
    }
    return render(request, "case_list.html", context, status_code=status(bad))
