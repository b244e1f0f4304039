"""The lists beyond the case list: the staff's work queue, the notifiers, a notifier's
dashboard and what awaits its action."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query, Request

from domain.case import Lane
from domain.lifecycle import Deadline, State
from ntd import reads
from ntd.web.api.common import Moment, Who, permission, router
from ntd.web.api.models import NotifierOut
from ntd.web.problems import responses
from ntd.web.runtime import portal
from projections.models import ActionItem, CaseLine, Dashboard


@router.get(
    "/queue",
    response_model=list[CaseLine],
    summary="the platform staff's work queue",
    openapi_extra=permission("read_cases", every_party=True),
    responses=responses(403, 404, 422),
    tags=["queue"],
)
def queue(
    request: Request,
    actor: Who,
    notifier_id: UUID | None = None,
    lane: Lane | None = None,
    state: Annotated[list[State] | None, Query(description="repeatable")] = None,
    deadline: Annotated[
        Deadline | None, Query(description="only cases with this deadline open, by it")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=reads.PAGE_MAX)] = 100,
) -> list[CaseLine]:
    """Open cases: trusted-lane takedowns awaiting review first, then those of the notifiers
    you manage, then by the nearest deadline."""
    here = portal(request)
    filters = reads.QueueFilters(
        notifier_id=notifier_id,
        lane=lane,
        states=tuple(state or ()),
        deadline=deadline,
        limit=limit,
    )
    with here.ntd() as ntd:
        return reads.queue_lines(ntd, actor, filters, here.caught_up)


@router.get(
    "/notifiers",
    response_model=list[NotifierOut],
    summary="the notifiers whose dashboards you may read",
    openapi_extra=permission("read_dashboard"),
    responses=responses(403),
    tags=["notifiers"],
)
def notifiers(request: Request, actor: Who) -> list[NotifierOut]:
    """Every notifier for the platform's staff; a notifier's user its own."""
    here = portal(request)
    with here.ntd() as ntd:
        found = reads.notifiers_of(ntd, actor, here.caught_up)
    return [NotifierOut(notifier_id=i, name=n) for i, n in found]


@router.get(
    "/notifiers/{notifier_id}/dashboard",
    response_model=Dashboard,
    summary="a notifier's figures",
    openapi_extra=permission("read_dashboard"),
    responses=responses(403, 404, 422),
    tags=["notifiers"],
)
def notifier_dashboard(
    request: Request,
    notifier_id: UUID,
    actor: Who,
    at: Annotated[Moment | None, Query(description="figures as of this time [now]")] = None,
) -> Dashboard:
    """Cases by state, rates, time to takedown, deadlines, top sellers and the trusted-lane
    standing with the figures behind it."""
    here = portal(request)
    with here.ntd() as ntd:
        return reads.dashboard(ntd, actor, notifier_id, at or here.clock.now(), here.caught_up)


@router.get(
    "/notifiers/{notifier_id}/needs-action",
    response_model=list[ActionItem],
    summary="what awaits the notifier's action",
    openapi_extra=permission("read_cases"),
    responses=responses(403, 404),
    tags=["notifiers"],
)
def notifier_needs_action(request: Request, notifier_id: UUID, actor: Who) -> list[ActionItem]:
    """Clarification and identification requests to answer, forwarded counter-notices and
    unread messages, the soonest due first."""
    here = portal(request)
    with here.ntd() as ntd:
        return reads.needs_action(ntd, actor, notifier_id, here.caught_up)
