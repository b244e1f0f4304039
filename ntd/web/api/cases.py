"""Reading cases: the list, one case (now, at a version or as it stood), its conversation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query, Request
from fastapi.responses import JSONResponse

from domain.access import SellerKey
from domain.case import Lane, Message
from domain.lifecycle import State
from domain.values import NotFound
from ntd import reads
from ntd.bootstrap import Ntd
from ntd.web.api.common import CaseId, Moment, Who, permission, router
from ntd.web.forms import VERSION_MAX
from ntd.web.problems import NotReady, responses
from ntd.web.runtime import Portal, portal


@router.get(
    "/cases",
    response_model=reads.CasePage,
    summary="the cases you may read, the latest filed first",
    openapi_extra=permission("read_cases"),
    responses=responses(403, 404, 422),
    tags=["cases"],
)
def list_cases(
    request: Request,
    actor: Who,
    notifier_id: UUID | None = None,
    seller: Annotated[
        str | None, Query(description="MARKETPLACE/SELLER_ID (a seller's user: its own)")
    ] = None,
    state: Annotated[list[State] | None, Query(description="repeatable")] = None,
    lane: Lane | None = None,
    due_before: Annotated[
        Moment | None, Query(description="only cases with an open deadline due by then")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=reads.PAGE_MAX)] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the page before")] = None,
) -> reads.CasePage:
    """Platform staff see every notifier's cases, a notifier's user its notifiers', a seller's
    user its own seller's. Page on with `cursor`."""
    here = portal(request)
    filters = reads.CaseFilters(
        notifier_id=notifier_id,
        seller=_seller(seller),
        states=tuple(state or ()),
        lane=lane,
        due_before=due_before,
        limit=limit,
        cursor=cursor,
    )
    with here.ntd() as ntd:
        return reads.case_lines(ntd, actor, filters, here.caught_up)


def _seller(text: str | None) -> SellerKey | None:
    if text is None:
        return None
    try:
        return SellerKey.parse(text)
    except ValueError as error:
        raise reads.FilterRequired(f"seller: {error}") from None


@router.get(
    "/cases/{case_id}",
    response_model=reads.CaseDetail,
    summary="a case now, at a version, or as it stood at a time",
    openapi_extra=permission("case"),
    responses=responses(403, 404, 409, 422, 503),
    tags=["cases"],
)
def show_case(
    request: Request,
    case_id: CaseId,
    actor: Who,
    version: Annotated[int | None, Query(ge=1, le=VERSION_MAX)] = None,
    as_of: Moment | None = None,
    min_version: Annotated[
        int | None,
        Query(
            ge=1,
            le=VERSION_MAX,
            description="wait briefly until the read models hold this version (503)",
        ),
    ] = None,
) -> JSONResponse:
    """The case with its timeline (and its conversation, for whoever may read it). With
    `min_version`, answered once the read models (lists, queue, dashboard) hold at least that
    version of the case, so a read that follows a command sees it (else 503, Retry-After)."""
    here = portal(request)
    with here.ntd() as ntd:
        if min_version is not None:  # first: a refused read must not mark the conversation read
            _await(here, ntd, case_id, min_version, reads.latest_version(ntd, actor, case_id))
        detail = reads.case_detail(ntd, actor, case_id, version, as_of)
    return JSONResponse(detail.model_dump(mode="json"), headers={"ETag": f'"{detail.version}"'})


def _await(here: Portal, ntd: Ntd, case_id: UUID, min_version: int | None, latest: int) -> None:
    """Wait for the read models to hold `min_version` of the case: 503 when they lag behind,
    404 at once for a version the case (in the event store, always current) never reached."""
    if min_version is None:
        return
    if min_version > latest:
        raise NotFound(f"case {case_id} has only {latest} versions, not {min_version}")
    within = here.web.read_wait_seconds
    if not reads.wait_for_version(ntd, case_id, min_version, within, here.caught_up):
        raise NotReady(
            f"the read models do not hold version {min_version} of case {case_id} yet; retry",
            retry_after=1,
        )


@router.get(
    "/cases/{case_id}/conversation",
    response_model=list[Message],
    summary="the case's conversation between the notifier and the platform's staff",
    openapi_extra=permission("read_conversations"),
    responses=responses(403, 404, 503),
    tags=["cases"],
)
def show_conversation(
    request: Request,
    case_id: CaseId,
    actor: Who,
    min_version: Annotated[int | None, Query(ge=1, le=VERSION_MAX)] = None,
) -> list[Message]:
    """Oldest first; reading it marks it read. Never a seller's."""
    here = portal(request)
    with here.ntd() as ntd:
        if min_version is not None:  # first: a refused read must not mark the conversation read
            _await(here, ntd, case_id, min_version, reads.latest_version(ntd, actor, case_id))
        messages, _ = reads.conversation(ntd, actor, case_id)
    return messages
