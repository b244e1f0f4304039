"""The audit trail: streamed in three formats, and its hash chains verified."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query, Request
from fastapi.responses import StreamingResponse

from domain.values import Actor
from ntd import audit_export, reads
from ntd.web.api.common import Moment, Who, permission, router
from ntd.web.exports import audit_chunks
from ntd.web.problems import responses
from ntd.web.runtime import portal
from projections.models import AuditQuery, AuditRow, AuditVerification


@router.get(
    "/audit",
    response_model=list[AuditRow],
    summary="the audit trail, streamed",
    openapi_extra=permission("read_audit"),
    responses={
        **responses(403, 422),
        200: {
            "description": "rows oldest first",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        },
    },
    tags=["audit"],
)
def audit(
    request: Request,
    actor: Who,
    case_id: UUID | None = None,
    notice_id: UUID | None = None,
    notifier_id: UUID | None = None,
    seller_id: str | None = None,
    by: Annotated[str | None, Query(alias="actor", description="e.g. agent:alice")] = None,
    type: Annotated[str | None, Query(description="event type, e.g. taken_down")] = None,
    since: Moment | None = None,
    until: Moment | None = None,
    limit: Annotated[int | None, Query(ge=1, le=10**9)] = None,
    format: Literal["json", "jsonl", "csv"] = "json",
) -> StreamingResponse:
    """Rows matching every filter, oldest first, as a JSON array, JSON lines or CSV."""
    query = AuditQuery(
        case_id=case_id,
        notice_id=notice_id,
        notifier_id=notifier_id,
        seller_id=seller_id,
        actor=_actor_filter(by),
        event_type=_known_type(type),
        since=since,
        until=until,
    )
    here = portal(request)
    with here.ntd() as ntd:
        ntd.app.may_read("read_audit", actor)  # refused before the answer starts
    return StreamingResponse(
        audit_chunks(here, actor, query, limit, format),
        media_type=audit_export.MEDIA_TYPES[format],
    )


def _actor_filter(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return str(Actor.parse(text))
    except ValueError:
        raise reads.FilterRequired(
            f"actor: {text!r} is not an actor: expected KIND:ID, e.g. agent:alice"
        ) from None


def _known_type(value: str | None) -> str | None:
    """A typo must not look like "no rows": refuse a type no event has."""
    if value is None or value in audit_export.EVENT_TYPES:
        return value
    raise reads.FilterRequired(
        f"type: no event is of type {value!r}; the types are {', '.join(audit_export.EVENT_TYPES)}"
    )


@router.post(
    "/audit/verify",
    response_model=AuditVerification,
    summary="recompute every hash chain of the audit trail",
    openapi_extra=permission("read_audit"),
    responses=responses(403),
    tags=["audit"],
)
def audit_verify(request: Request, actor: Who) -> AuditVerification:
    """`ok` false names the first broken link."""
    here = portal(request)
    with here.ntd() as ntd:
        return reads.audit_verify(ntd, actor, here.caught_up)
