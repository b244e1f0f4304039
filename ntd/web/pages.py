"""The portal's pages: server-rendered HTML for brands, the platform's staff, sellers and
auditors, over the same application service as the CLI and the API.

A page parses its query or form (ntd/web/forms.py), calls the service or ntd.reads, and renders
a template; the service checks every permission. The pages decide only which links and forms
to offer, from the same permission and lifecycle tables, so nothing is offered that the service
would refuse for the user's roles or the case's state; what is offered is still checked there.
Every form carries the session's CSRF value and, after it succeeds, redirects (post-redirect-
get); a refused form is shown again with each problem next to its field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from domain.access import NOTIFIER_ROLES, Grant, SellerKey
from domain.case import Authenticity, Case, ItemKind, Lane
from domain.catalog import event_classes, event_type
from domain.lifecycle import TRANSITIONS, Deadline, State, Step
from domain.notifier import RightStatus
from domain.permissions import PERMISSIONS, Forbidden, Target, reaches
from domain.values import Actor, DomainError, NotFound, StaleVersion, Unauthenticated
from ntd import reads
from ntd.bootstrap import Ntd
from ntd.web import auth, charts, forms
from ntd.web.forms import FormInvalid, checked, text
from ntd.web.problems import status_of
from ntd.web.runtime import Portal, portal
from ntd.web.templating import flash, nav_for, render, with_query
from projections.models import AuditQuery, AuditRow, CaseLine, Dashboard, NeedsAction
from projections.queues import due_of, seller_next

router = APIRouter(include_in_schema=False)


def rule(row: str) -> dict[str, Any]:
    """The permission table's row a page exercises, as the API names its rows (`x-permission`):
    the authorization matrix reads it from every route."""
    if row not in PERMISSIONS:
        raise KeyError(f"no row {row!r} in domain.permissions.PERMISSIONS")
    return {"x-permission": row}


# -- who is asking ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class User:
    """The logged-in principal and the roles it holds now."""

    actor: Actor
    grants: tuple[Grant, ...]

    def may(self, row: str, target: Target | None = None) -> bool:
        """Whether some grant allows the table's `row` (for `target`'s parties, when given):
        to offer a link or a form only; the service decides."""
        roles = PERMISSIONS[row].roles
        return any(
            g.role in roles and (target is None or reaches(roles[g.role], g, target))
            for g in self.grants
        )

    @property
    def notifier_ids(self) -> list[UUID]:
        """The notifiers the user acts for as one of their users or registered agents."""
        ids = {g.notifier_id for g in self.grants if g.role in NOTIFIER_ROLES and g.notifier_id}
        return sorted(ids, key=str)

    @property
    def sellers(self) -> list[SellerKey]:
        return sorted({g.seller for g in self.grants if g.seller is not None}, key=str)


def current_user(request: Request) -> User:
    """The session's principal (a redirect to the login page without one) and its grants."""
    actor = auth.page_actor(request)
    with portal(request).ntd() as ntd:
        try:
            grants = tuple(ntd.app.own_grants(actor))
        except Forbidden:  # no role at all: the start page says so
            grants = ()
    request.state.grants = list(grants)
    return User(actor, grants)


async def posted_form(request: Request) -> FormData:
    """The posted form, once its CSRF value matches the session's (CsrfRejected: 403)."""
    form = await request.form()
    auth.check_csrf(request, text(form, "csrf"))
    return form


CurrentUser = Annotated[User, Depends(current_user)]
Posted = Annotated[FormData, Depends(posted_form)]


def see_other(url: str, message: str = "") -> RedirectResponse:
    """The redirect after a form succeeded, with a message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(response, message)
    return response


def now_of(ntd: Ntd) -> datetime:
    return ntd.clock.now()


# -- logging in and out ----------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"title": "Log in", "next": auth.safe_next(next)})


@router.post("/login")
def login(request: Request, form: Posted) -> Response:
    """Check the token and start a session; a wrong token is refused without saying why."""
    target = auth.safe_next(text(form, "next"))
    response = see_other(target)
    try:
        auth.login(request, response, text(form, "token"))
    except Unauthenticated:
        context = {"title": "Log in", "next": target, "errors": {"token": ["not a valid token"]}}
        return render(request, "login.html", context, status_code=401)
    return response


@router.post("/logout")
def logout(request: Request, user: CurrentUser, form: Posted) -> Response:
    response = see_other("/login", "You are logged out.")
    auth.logout(response)
    return response


@router.get("/")
def home(request: Request, user: CurrentUser) -> Response:
    """The first section the user's roles open (a brand's dashboard, the queue, ...)."""
    sections = nav_for(user.grants)
    if sections:
        return RedirectResponse(sections[0].href, status_code=303)
    return render(request, "home.html", {"title": "No role"})


# -- a brand: the dashboard ------------------------------------------------------------------------


def _notifiers(here: Portal, ntd: Ntd, user: User) -> list[tuple[UUID, str]]:
    return reads.notifiers_of(ntd, user.actor, here.caught_up)


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
        known = _notifiers(here, ntd, user)
    choices = [NotifierChoice(i, name) for i, name in known]
    context = {"title": "Choose a notifier", "notifiers": choices, "suffix": suffix}
    return render(request, "brand_choose.html", context)


@router.get("/brand", openapi_extra=rule("read_dashboard"))
def brand_home(request: Request, user: CurrentUser) -> Response:
    return _choose(request, user, "")


@router.get("/brand/notice", openapi_extra=rule("file_notice"))
def brand_notice_home(request: Request, user: CurrentUser) -> Response:
    return _choose(request, user, "/notice")


DEFAULT_DAYS = 28


def _range(request: Request, today: date) -> tuple[date, date, dict[str, str], FormInvalid]:
    """The dashboard's date range from `from` and `to` (ISO dates); the last 28 days by
    default, and by default where a value is wrong (the problem shown by its field)."""
    bad = FormInvalid()
    values = {k: request.query_params.get(k, "").strip() for k in ("from", "to")}

    def day(name: str, default: date) -> date:
        if not values[name]:
            return default
        try:
            return date.fromisoformat(values[name])
        except ValueError:
            bad.add(name, f"{values[name]!r} is not an ISO date (e.g. {today.isoformat()})")
            return default

    end = day("to", today)
    start = day("from", end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        bad.add("from", "must not be after `to`")
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


TAKEDOWN_SAMPLE = 300
"""The most cases read for the time-to-takedown histogram (the latest filed in the range)."""


@router.get("/brand/{notifier_id}", openapi_extra=rule("read_dashboard"))
def brand_dashboard(request: Request, notifier_id: UUID, user: CurrentUser) -> Response:
    """The brand's figures as of the end of the range, its charts over the range, what needs
    its action and its trusted-lane standing."""
    here = portal(request)
    with here.ntd() as ntd:
        now = now_of(ntd)
        start, end, values, bad = _range(request, now.date())
        board = reads.dashboard(ntd, user.actor, notifier_id, _end_of(end, now), here.caught_up)
        actions = reads.needs_action(ntd, user.actor, notifier_id, _as_is)
        rates = [
            (day.isoformat(), _rate_at(ntd, user, notifier_id, _end_of(day, now)))
            for day in charts.sample_days(start, end)
        ]
        took = _takedown_hours(ntd, user, notifier_id, start, _end_of(end, now))
        known = _notifiers(here, ntd, user)
    context = {
        "title": f"Dashboard · {board.name or notifier_id}",
        "board": board,
        "actions": actions,
        "action_labels": ACTION_LABELS,
        "charts": _charts(board, start, end, rates, took),
        "now": now,
        "values": values,
        "errors": bad.errors,
        **_brand_nav(notifier_id, board.name, known),
    }
    return render(request, "brand_dashboard.html", context, status_code=422 if bad.errors else 200)


def _as_is(ntd: Ntd) -> Ntd:
    """The catch-up for the reads after the first of a page: one catch-up serves them all."""
    return ntd


def _rate_at(ntd: Ntd, user: User, notifier_id: UUID, at: datetime) -> float | None:
    """The takedown rate as the dashboard computes it, as of `at`: the rule stays there."""
    return reads.dashboard(ntd, user.actor, notifier_id, at, _as_is).takedown_rate


def _takedown_hours(
    ntd: Ntd, user: User, notifier_id: UUID, since: date, until: datetime
) -> list[float]:
    """Hours from filing to takedown of the cases filed in the range (the latest
    TAKEDOWN_SAMPLE of them). ntd.reads has no such read yet: the case list is read through
    it (its permission check first), then each listed case's summary from the read store."""
    start = datetime.combine(since, time(), UTC)
    page = reads.case_lines(
        ntd,
        user.actor,
        reads.CaseFilters(notifier_id=notifier_id, limit=TAKEDOWN_SAMPLE),
        _as_is,
    )
    found = []
    for line in page.lines:
        if not start <= line.filed_at <= until:
            continue
        summary = ntd.read_store.case(line.case_id)
        down = summary.taken_down_at if summary is not None else None
        if summary is not None and down is not None and down <= until:
            found.append((down - summary.filed_at).total_seconds() / 3600)
    return found


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


ACTION_LABELS = {
    NeedsAction.CLARIFICATION: "Answer the clarification request",
    NeedsAction.IDENTIFICATION: "Say whether the goods are genuine",
    NeedsAction.COUNTER_NOTICE: "Counter-notice forwarded: report litigation or it is restored",
    NeedsAction.MESSAGES: "Read the new messages",
}
"""What each needs-action item asks of the brand (the CLI's `ntd queue --brand` wording)."""


def _brand_nav(
    notifier_id: UUID, name: str | None, known: list[tuple[UUID, str]]
) -> dict[str, Any]:
    return {
        "notifier_id": notifier_id,
        "notifier_name": name or str(notifier_id),
        "notifiers": known,
    }


# -- case lists ------------------------------------------------------------------------------------

STATE_CHOICES = [(s.value, s.value.replace("_", " ")) for s in State]
LANE_CHOICES = [(lane.value, lane.value) for lane in Lane]
DEADLINE_CHOICES = [(d.value, d.value.replace("_", " ")) for d in Deadline]
PAGE_SIZE = 50


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


def _pages(path: str, request: Request, cursor: str | None) -> dict[str, str | None]:
    """Links to the first and the next page, keeping the filters."""
    kept = {k: request.query_params.getlist(k) for k in request.query_params if k != "cursor"}
    first = with_query(path, kept) if request.query_params.get("cursor") else None
    return {
        "first_page": first,
        "next_page": with_query(path, {**kept, "cursor": cursor}) if cursor else None,
    }


@router.get("/brand/{notifier_id}/cases", openapi_extra=rule("read_cases"))
def brand_cases(request: Request, notifier_id: UUID, user: CurrentUser) -> Response:
    """The brand's cases, the latest filed first, filtered, a page at a time."""
    here = portal(request)
    filters, values, bad = _case_filters(request)
    with here.ntd() as ntd:
        filters = filters.model_copy(update={"notifier_id": notifier_id})
        page = reads.case_lines(ntd, user.actor, filters, here.caught_up)
        known = _notifiers(here, ntd, user)
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
        **_brand_nav(notifier_id, name, known),
        **_pages(request.url.path, request, page.next_cursor),
    }
    return render(request, "case_list.html", context, status_code=422 if bad.errors else 200)


# -- a brand: filing a notice ----------------------------------------------------------------------

NOTICE_FIELDS = (
    "right_id",
    "listings",
    "reason_code",
    "explanation",
    "evidence",
    "contact_name",
    "contact_email",
    "signature",
    "good_faith_statement",
    "accuracy_statement",
    "automated_detection",
    "notice_id",
)


def _notice_page(
    request: Request,
    ntd: Ntd,
    user: User,
    notifier_id: UUID,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> Response:
    """The notice form, with the notifier's verified rights to choose from."""
    notifier = ntd.app.notifier(notifier_id, user.actor)
    rights = [
        (str(r.right_id), f"{r.right_type.value} {r.registration_number} ({r.jurisdiction})")
        for r in notifier.rights.values()
        if r.status is RightStatus.VERIFIED
    ]
    known = _notifiers(portal(request), ntd, user)
    context = {
        "title": f"File a notice · {notifier.name}",
        "rights": rights,
        "reason_codes": [(code, code.replace("_", " ")) for code in forms.reason_codes()],
        "max_listings": forms.MAX_LISTINGS,
        "values": values,
        "errors": errors,
        **_brand_nav(notifier_id, notifier.name, known),
    }
    return render(request, "notice_form.html", context, status_code=status_code)


@router.get("/brand/{notifier_id}/notice", openapi_extra=rule("file_notice"))
def notice_form(request: Request, notifier_id: UUID, user: CurrentUser) -> Response:
    with portal(request).ntd() as ntd:
        return _notice_page(request, ntd, user, notifier_id, {}, {})


@router.post("/brand/{notifier_id}/notice", openapi_extra=rule("file_notice"))
def file_notice(request: Request, notifier_id: UUID, user: CurrentUser, form: Posted) -> Response:
    """File the notice; a refused one comes back with every problem by its field (the texts
    `ntd notice file` prints)."""
    values = forms.values(form, NOTICE_FIELDS)
    with portal(request).ntd() as ntd:
        try:
            submission = forms.notice(_for_notifier(form, notifier_id), user.actor)
            receipt = ntd.app.file_notice(submission, user.actor)
        except FormInvalid as bad:
            return _notice_page(request, ntd, user, notifier_id, values, bad.errors, 422)
    new = len(receipt.new_case_ids)
    message = (
        f"Notice {receipt.notice_id} accepted ({receipt.lane.value} lane): "
        f"{len(receipt.cases)} listing{'s' if len(receipt.cases) != 1 else ''}, {new} new "
        f"case{'s' if new != 1 else ''}, {len(receipt.cases) - new} already open."
    )
    return see_other(f"/brand/{notifier_id}/cases", message)


class _Pinned:
    """The posted form with the notifier of the page's address, whatever the form says."""

    def __init__(self, form: FormData, notifier_id: UUID) -> None:
        self.form, self.notifier_id = form, str(notifier_id)

    def get(self, key: str, /) -> Any:
        return self.notifier_id if key == "notifier_id" else self.form.get(key)

    def getlist(self, key: str, /) -> list[Any]:
        return [self.notifier_id] if key == "notifier_id" else self.form.getlist(key)


def _for_notifier(form: FormData, notifier_id: UUID) -> forms.Fields:
    return _Pinned(form, notifier_id)


# -- the platform's staff: the queue ---------------------------------------------------------------


@router.get("/queue", openapi_extra=rule("read_cases"))
def queue(request: Request, user: CurrentUser) -> Response:
    """The work queue (see projections/queues.py for its order), filtered."""
    here = portal(request)
    bad = FormInvalid()
    query = request.query_params
    values = {k: query.get(k, "").strip() for k in ("notifier", "lane", "state", "deadline")}
    notifier_id = forms.optional_uuid(values["notifier"], "notifier", bad)
    chosen = {
        "lane": _choice(values["lane"], Lane, "lane", bad),
        "states": (s,) if (s := _choice(values["state"], State, "state", bad)) else (),
        "deadline": _choice(values["deadline"], Deadline, "deadline", bad),
    }
    filters = reads.QueueFilters(notifier_id=notifier_id, limit=101, **chosen)
    with here.ntd() as ntd:
        lines = reads.queue_lines(ntd, user.actor, filters, here.caught_up)
        known = _notifiers(here, ntd, user)
        now = now_of(ntd)
    kind = chosen["deadline"]
    context = {
        "title": "Work queue",
        "lines": lines[:100],
        "more": len(lines) > 100,
        "notifiers": [(str(i), name) for i, name in known],
        "lanes": LANE_CHOICES,
        "states": STATE_CHOICES,
        "deadlines": DEADLINE_CHOICES,
        "values": values,
        "errors": bad.errors,
        "me": str(user.actor.principal),
        "now": now,
        "due_of": lambda line: _due(line, kind),
    }
    return render(request, "queue.html", context, status_code=422 if bad.errors else 200)


def _choice(value: str, kind: Any, name: str, bad: FormInvalid) -> Any:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        bad.add(name, f"{value!r} is not one of {', '.join(k.value for k in kind)}")
        return None


def _due(line: CaseLine, kind: Deadline | None) -> tuple[Deadline, datetime] | None:
    """The deadline a queue line is ordered by, and when it is due."""
    due = due_of(line.deadlines, kind)
    if due is None:
        return None
    return (kind or line.next_deadline or Deadline.REVIEW), due


# -- a seller --------------------------------------------------------------------------------------


@router.get("/seller", openapi_extra=rule("read_cases"))
def seller_cases(request: Request, user: CurrentUser) -> Response:
    """A seller's cases with what it may still do on each and by when."""
    here = portal(request)
    bad = FormInvalid()
    chosen = request.query_params.get("seller", "").strip()
    seller: SellerKey | None = None
    if chosen:
        try:
            seller = SellerKey.parse(chosen)
        except ValueError as error:
            bad.add("seller", str(error))
    elif user.sellers:
        seller = user.sellers[0]
    filters = reads.CaseFilters(
        seller=seller, limit=PAGE_SIZE, cursor=request.query_params.get("cursor") or None
    )
    with here.ntd() as ntd:
        page = reads.case_lines(ntd, user.actor, filters, here.caught_up)
        now = now_of(ntd)
    context = {
        "title": f"Cases about {seller}" if seller else "Your cases",
        "rows": [(line, seller_next(line, now)) for line in page.lines],
        "sellers": user.sellers,
        "seller": seller,
        "now": now,
        **_pages(request.url.path, request, page.next_cursor),
    }
    return render(request, "seller.html", context, status_code=422 if bad.errors else 200)


# -- one case --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Action:
    """A form on a case's page: the service's command it gives (also the permission table's
    row), the lifecycle step it takes (None: no step of the table), the kind of its fields."""

    slug: str
    command: str
    step: Step | None
    title: str
    form: str
    removal: bool = False
    despite: bool = False
    """Takes `despite_genuine` (a decision that keeps or puts the listing down)."""
    confirm: str = ""
    danger: bool = False
    versioned: bool = True
    """Carries the case version it was decided on (If-Match): a stale one is refused."""


ACTIONS: tuple[Action, ...] = (
    Action(
        "take-down",
        "take_down",
        Step.TAKE_DOWN,
        "Take down",
        "reasons",
        removal=True,
        despite=True,
        confirm="Take the listing down?",
        danger=True,
    ),
    Action("decline", "decline", Step.DECLINE, "Decline", "reasons"),
    Action(
        "request-clarification",
        "request_clarification",
        Step.REQUEST_CLARIFICATION,
        "Request clarification",
        "question",
    ),
    Action(
        "request-identification",
        "request_identification",
        Step.REQUEST_IDENTIFICATION,
        "Request identification",
        "identification",
    ),
    Action(
        "confirm",
        "confirm_takedown",
        Step.CONFIRM_TAKEDOWN,
        "Confirm the takedown",
        "reasons",
        removal=True,
        despite=True,
    ),
    Action("reverse", "reverse_takedown", Step.REVERSE_TAKEDOWN, "Reverse the takedown", "reasons"),
    Action(
        "forward",
        "forward_to_notifier",
        Step.FORWARD_TO_NOTIFIER,
        "Forward the counter-notice",
        "none",
    ),
    Action("uphold-appeal", "uphold_appeal", Step.UPHOLD_APPEAL, "Uphold the appeal", "reasons"),
    Action(
        "reject-appeal",
        "reject_appeal",
        Step.REJECT_APPEAL,
        "Reject the appeal",
        "reasons",
        removal=True,
        despite=True,
    ),
    Action(
        "provide-clarification",
        "provide_clarification",
        Step.PROVIDE_CLARIFICATION,
        "Answer the clarification request",
        "answer",
    ),
    Action(
        "identify",
        "answer_identification",
        Step.ANSWER_IDENTIFICATION,
        "Answer the identification request",
        "identify",
    ),
    Action(
        "report-litigation",
        "report_litigation",
        Step.REPORT_LITIGATION,
        "Report litigation",
        "litigation",
    ),
    Action(
        "counter-notice",
        "counter_notice",
        Step.COUNTER_NOTICE,
        "Counter-notice (appeal the takedown)",
        "counter",
    ),
    Action("message", "post_message", None, "Post a message", "message", versioned=False),
    Action(
        "withdraw",
        "withdraw",
        Step.WITHDRAW,
        "Withdraw the notice for this listing",
        "reason",
        confirm="Withdraw?",
    ),
    Action(
        "close", "close_case", Step.CLOSE, "Close the case", "reason", confirm="Close for good?"
    ),
)


def _applies(action: Action, detail: reads.CaseDetail) -> bool:
    """Whether the case, as it stands, takes the action: the lifecycle table, and the few
    conditions the aggregate checks beyond it (an open request, an open appeal window)."""
    if action.step is not None and (action.step, detail.state) not in TRANSITIONS:
        return False
    if action.form == "identify":
        return detail.identification_request is not None
    if action.form == "counter":
        return Deadline.COUNTER_NOTICE in detail.deadlines
    if action.form == "message":
        return detail.conversation is not None and detail.state is not State.CLOSED
    return True


def _offered(detail: reads.CaseDetail, user: User) -> list[Action]:
    """The forms to show: actions the case takes now and the user's roles allow on it."""
    seller = SellerKey(marketplace=detail.listing.marketplace, seller_ref=detail.listing.seller_id)
    target = Target(f"case {detail.case_id}", notifier_id=detail.notifier_id, seller=seller)
    return [a for a in ACTIONS if _applies(a, detail) and user.may(a.command, target)]


CHOICES = {
    "grounds": [(k, k.replace("_", " ")) for k in forms.GROUNDS],
    "visibilities": [(k, k.replace("_", " ")) for k in forms.VISIBILITIES],
    "automation": [(k, k.replace("_", " ")) for k in forms.AUTOMATION if k != "not_automated"],
    "verdicts": [(a.value, a.value.replace("_", " ")) for a in Authenticity],
    "item_kinds": ", ".join(k.value for k in ItemKind),
}


def _case_page(
    request: Request,
    ntd: Ntd,
    user: User,
    case_id: UUID,
    *,
    version: int | None = None,
    as_of: datetime | None = None,
    active: str = "",
    values: Any = None,
    errors: dict[str, list[str]] | None = None,
    alert: str = "",
    status_code: int = 200,
) -> Response:
    here = portal(request)
    detail = reads.case_detail(here.caught_up(ntd), user.actor, case_id, version, as_of)
    past = version is not None or as_of is not None
    label = ""
    if as_of is not None:
        label = f"at {as_of:%Y-%m-%d %H:%M} UTC (version {detail.version})"
    elif version is not None:
        label = f"at version {detail.version}"
    context = {
        "title": f"Case {detail.listing.marketplace}/{detail.listing.listing_id}",
        "detail": detail,
        "past": label,
        "actions": [] if past else _offered(detail, user),
        "staff": user.may("take_down"),
        "choices": CHOICES,
        "active": active,
        "values": values if values is not None else FormData(),
        "empty": FormData(),
        "errors": errors or {},
        "alert": alert,
        "now": now_of(ntd),
        "as_of_value": f"{as_of:%Y-%m-%dT%H:%M}" if as_of else "",
    }
    return render(request, "case.html", context, status_code=status_code)


@router.get("/cases/{case_id}", openapi_extra=rule("read_cases"))
def case_page(request: Request, case_id: UUID, user: CurrentUser) -> Response:
    """A case, now or as it stood at `version` or `as_of`, with the forms the user may use."""
    bad = FormInvalid()
    as_of = forms.optional_time(request.query_params.get("as_of", ""), "as_of", bad)
    version_text = request.query_params.get("version", "").strip()
    version = int(version_text) if version_text.isdigit() and int(version_text) > 0 else None
    if version_text and version is None:
        bad.add("version", f"{version_text!r} is not a version (1, 2, ...)")
    if as_of is not None and version is not None:
        version = None  # the time chosen in the form wins over a version link
    with portal(request).ntd() as ntd:
        return _case_page(
            request,
            ntd,
            user,
            case_id,
            version=version,
            as_of=as_of,
            alert=str(bad) if bad.errors else "",
            status_code=422 if bad.errors else 200,
        )


STALE = (
    "The case changed since you opened it (it is now at version {version}): nothing was done. "
    "Read it again below and decide on what it is now."
)


def _act(action: Action, request: Request, case_id: UUID, user: User, form: FormData) -> Response:
    """Give the command of one of the case page's forms, at the version the page showed; a
    refusal shows the page again, the form open with its problems, or why the case took no
    step (a stale version: 412)."""
    version_text = text(form, "version")
    version = int(version_text) if version_text.isdigit() else None

    def again(ntd: Ntd, status: int, **shown: Any) -> Response:
        return _case_page(
            request,
            ntd,
            user,
            case_id,
            active=action.slug,
            values=form,
            status_code=status,
            **shown,
        )

    with portal(request).ntd() as ntd:
        try:
            case = ntd.app.case(case_id, user.actor)
            args, options = _arguments(action, form, case)
            if action.versioned:
                options["expected_version"] = version
            changed: Case = getattr(ntd.app, action.command)(case_id, *args, user.actor, **options)
        except FormInvalid as bad:
            return again(ntd, 422, errors=bad.errors)
        except StaleVersion:
            current = ntd.app.case(case_id, user.actor).version
            return again(ntd, 412, alert=STALE.format(version=current))
        except (Forbidden, NotFound, Unauthenticated):
            raise
        except DomainError as refused:  # the lifecycle or a guard said no: say why, here
            return again(ntd, status_of(refused), alert=str(refused))
    deadlines = ", ".join(
        f"{kind.value} due {due:%Y-%m-%d %H:%M} UTC"
        for kind, due in sorted(changed.deadlines.items(), key=lambda kv: kv[1])
    )
    message = f"{action.title}: done. The case is {changed.state.value.replace('_', ' ')} "
    message += f"(version {changed.version})" + (f"; {deadlines}." if deadlines else ".")
    return see_other(f"/cases/{case_id}", message)


def _action_route(action: Action) -> None:
    """POST /cases/{case_id}/<slug>: one route per action, each naming its row of the table."""

    def endpoint(request: Request, case_id: UUID, user: CurrentUser, form: Posted) -> Response:
        return _act(action, request, case_id, user, form)

    endpoint.__name__ = f"case_{action.command}"
    router.add_api_route(
        f"/cases/{{case_id}}/{action.slug}",
        endpoint,
        methods=["POST"],
        openapi_extra=rule(action.command),
    )


for _action in ACTIONS:
    _action_route(_action)


def _arguments(
    action: Action, form: FormData, case: Case
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The command's arguments between the case id and the actor, and its options."""
    parse: dict[str, Callable[[], tuple[Any, ...]]] = {
        "reasons": lambda: (forms.statement_of_reasons(form, case.right_type, action.removal),),
        "question": lambda: (forms.required(form, "question"),),
        "answer": lambda: (forms.required(form, "answer"),),
        "identification": lambda: forms.gather(
            lambda: forms.required(form, "question"), lambda: forms.identification_items(form)
        ),
        "identify": lambda: forms.gather(
            lambda: forms.verdict(form),
            lambda: forms.required(form, "basis"),
            lambda: forms.evidence(form),
        ),
        "message": lambda: forms.gather(
            lambda: forms.required(form, "text"), lambda: forms.evidence(form)
        ),
        "counter": lambda: (forms.required(form, "statement"), checked(form, "consent")),
        "litigation": lambda: forms.gather(
            lambda: forms.required(form, "court"), lambda: forms.required(form, "reference")
        ),
        "reason": lambda: (forms.required(form, "reason"),),
        "none": lambda: (),
    }
    options = {"despite_genuine": checked(form, "despite_genuine")} if action.despite else {}
    return parse[action.form](), options


# -- an auditor ------------------------------------------------------------------------------------

EVENT_TYPES = sorted({event_type(cls) for cls in event_classes()})
AUDIT_FILTERS = ("case", "notice", "brand", "seller", "actor", "type", "since", "until")
AUDIT_SHOWN = 200
"""Rows shown on the page; the export has them all."""


def _audit_query(request: Request) -> tuple[AuditQuery, dict[str, str], FormInvalid]:
    """The trail's filters (those of `ntd audit query`) from the query string."""
    bad = FormInvalid()
    values = {k: request.query_params.get(k, "").strip() for k in AUDIT_FILTERS}
    actor = values["actor"]
    if actor:
        try:
            actor = str(Actor.parse(actor))
        except ValueError:
            bad.add("actor", f"{actor!r} is not an actor: expected KIND:ID, e.g. agent:alice")
    if values["type"] and values["type"] not in EVENT_TYPES:
        bad.add("type", f"no event is of type {values['type']!r}")
    data = {
        "case_id": forms.optional_uuid(values["case"], "case", bad),
        "notice_id": forms.optional_uuid(values["notice"], "notice", bad),
        "notifier_id": forms.optional_uuid(values["brand"], "brand", bad),
        "seller_id": values["seller"] or None,
        "actor": actor or None,
        "event_type": values["type"] or None,
        "since": forms.optional_time(values["since"], "since", bad),
        "until": forms.optional_time(values["until"], "until", bad),
    }
    if bad.errors:
        return AuditQuery(), values, bad
    return AuditQuery(**data), values, bad


def _audit_page(
    request: Request, user: User, verification: Any = None, status_code: int = 200
) -> Response:
    here = portal(request)
    query, values, bad = _audit_query(request)
    searched = any(values.values()) and not bad.errors
    rows: list[AuditRow] = []
    more = False
    with here.ntd() as ntd:
        ntd.app.may_read("read_audit", user.actor)
        known = _notifiers(here, ntd, user)
        if searched:
            stream = reads.audit_rows(ntd, user.actor, query, here.caught_up)
            try:
                rows = list(islice(stream, AUDIT_SHOWN + 1))
            finally:
                _close(stream)
            more = len(rows) > AUDIT_SHOWN
    kept = {k: v for k, v in values.items() if v}
    context = {
        "title": "Audit trail",
        "values": values,
        "errors": bad.errors,
        "notifiers": [(str(i), name) for i, name in known],
        "types": [(t, t.replace("_", " ")) for t in EVENT_TYPES],
        "rows": rows[:AUDIT_SHOWN],
        "more": more,
        "searched": searched,
        "verification": verification,
        "export_csv": with_query("/audit/export", {**kept, "format": "csv"}),
        "export_jsonl": with_query("/audit/export", {**kept, "format": "jsonl"}),
    }
    status = 422 if bad.errors else status_code
    return render(request, "audit.html", context, status_code=status)


def _close(stream: Iterator[Any]) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()  # end the query before the borrowed system goes back to the pool


@router.get("/audit", openapi_extra=rule("read_audit"))
def audit(request: Request, user: CurrentUser) -> Response:
    """Search the trail with the filters of `ntd audit query`; the first rows are shown."""
    return _audit_page(request, user)


@router.get("/audit/verify", openapi_extra=rule("read_audit"))
def audit_verify(request: Request, user: CurrentUser) -> Response:
    """Walk every hash chain (a read: a GET, so an auditor's page posts nothing)."""
    here = portal(request)
    with here.ntd() as ntd:
        result = reads.audit_verify(ntd, user.actor, here.caught_up)
    return _audit_page(request, user, verification=result)


EXPORTS = {"csv": ("text/csv", "csv"), "jsonl": ("application/x-ndjson", "jsonl")}


@router.get("/audit/export", openapi_extra=rule("read_audit"))
def audit_export(request: Request, user: CurrentUser) -> Response:
    """Every matching row as a download, streamed (the API's own formats)."""
    from ntd.web.api import _audit_stream

    fmt = request.query_params.get("format", "csv")
    if fmt not in EXPORTS:
        raise reads.FilterRequired(f"format: {fmt!r} is not one of csv, jsonl")
    query, _, bad = _audit_query(request)
    if bad.errors:
        raise reads.FilterRequired(str(bad))
    here = portal(request)
    with here.ntd() as ntd:
        ntd.app.may_read("read_audit", user.actor)  # refused before the download starts
    media, suffix = EXPORTS[fmt]
    headers = {"Content-Disposition": f'attachment; filename="ntd-audit.{suffix}"'}
    return StreamingResponse(
        _audit_stream(here, user.actor, query, None, fmt), media_type=media, headers=headers
    )
