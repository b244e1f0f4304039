"""The HTTP API under /api/v1: each route parses its input, calls one function of the
application service (commands) or of ntd.reads (queries), and answers with the project's
models; errors go through ntd/web/problems.py.

Every route names the permission table's row it exercises (`x-permission` in the OpenAPI
document); tests/unit/test_web_matrix.py fails for a route without one. The service checks the
row itself; the name here is what the matrix test and the docs read."""

from __future__ import annotations

import csv
import inspect
import io
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from domain.access import Grant, SellerKey
from domain.application import NtdApplication
from domain.case import Authenticity, Case, Evidence, IdentificationItem, Lane, Message
from domain.catalog import event_classes, event_type
from domain.lifecycle import Deadline, State
from domain.notice import NoticeSubmission
from domain.permissions import PERMISSIONS, allowed
from domain.values import (
    Actor,
    ActorKind,
    AutomatedDecision,
    DecisionGround,
    NotFound,
    Visibility,
)
from ntd import reads, reasons
from ntd.bootstrap import Ntd
from ntd.web.auth import api_actor
from ntd.web.idempotency import request_hash
from ntd.web.problems import NotReady, PreconditionRequired, responses
from ntd.web.runtime import Portal, portal
from projections.models import (
    ActionItem,
    AuditQuery,
    AuditRow,
    AuditVerification,
    CaseLine,
    Dashboard,
)

router = APIRouter(prefix="/api/v1", responses=responses(401, 429))
Who = Annotated[Actor, Depends(api_actor)]
CaseId = Annotated[UUID, Path(description="the case's id")]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="the case version the command was decided on"),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a client's unique key: a retry with the same key and body is answered "
        "with the first answer instead of acting twice",
        max_length=200,
    ),
]
EVENT_TYPES = sorted({event_type(cls) for cls in event_classes()})
VERSION_MAX = 2**31 - 1
"""No case reaches it; a larger number would not even fit the stores' integer columns."""


def permission(row: str, every_party: bool = False) -> dict[str, Any]:
    """The route's row of the permission table, in the OpenAPI document; `every_party`: the
    route shows every party's records, so only roles of scope `any` in that row reach it."""
    if row not in PERMISSIONS:
        raise KeyError(f"no row {row!r} in domain.permissions.PERMISSIONS")
    return {"x-permission": row} | ({"x-reach": "every party"} if every_party else {})


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- answers ---------------------------------------------------------------------------------


class CaseChanged(BaseModel):
    """What a command on a case answers: its new version, state and open deadlines."""

    case_id: UUID
    version: int
    state: State
    deadlines: dict[Deadline, datetime]


class FiledCaseOut(BaseModel):
    case_id: UUID
    marketplace: str
    listing_id: str
    already_open: bool


class Receipt(BaseModel):
    """A filing's acknowledgement: one case per listing (re-filed listings name their open
    case, `already_open`)."""

    notice_id: UUID
    client_notice_id: UUID | None
    lane: Lane
    cases: list[FiledCaseOut]


class Me(BaseModel):
    """Who the token names and the roles it holds now."""

    principal: str
    kind: ActorKind
    grants: list[Grant]


class NotifierOut(BaseModel):
    notifier_id: UUID
    name: str


def _changed(case: Case) -> CaseChanged:
    return CaseChanged(
        case_id=case.id, version=case.version, state=case.state, deadlines=dict(case.deadlines)
    )


def _run(
    request: Request,
    actor: Actor,
    key: str | None,
    body: BaseModel | None,
    command: Callable[[Ntd], BaseModel],
    status: int = 200,
) -> JSONResponse:
    """Run a command with a borrowed system, once per Idempotency-Key: a retry replays the
    first answer (see ntd/web/idempotency.py)."""
    here = portal(request)
    if key is None:
        with here.ntd() as ntd:
            return JSONResponse(command(ntd).model_dump(mode="json"), status_code=status)
    data = body.model_dump(mode="json") if body is not None else None
    digest = request_hash(request.method, request.url.path, data)
    principal = str(actor.principal)
    store = here.idempotency
    kept = store.claim(principal, key, digest)
    if kept is not None:
        return JSONResponse(
            kept.body, status_code=kept.status, headers={"Idempotent-Replay": "true"}
        )
    try:
        with here.ntd() as ntd:
            answer = command(ntd).model_dump(mode="json")
    except BaseException:
        store.release(principal, key)
        raise
    store.keep(principal, key, status, answer)
    return JSONResponse(answer, status_code=status)


def _version(if_match: str | None, required: bool) -> int | None:
    """The case version of `If-Match` ("3", "\\"3\\"" or W/"3"); 428 when a decision lacks it."""
    if if_match is None:
        if required:
            raise PreconditionRequired(
                "If-Match: a decision needs the case version it was decided on "
                "(If-Match: <version>, from the case's ETag or `version`)"
            )
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or not 1 <= int(text) <= VERSION_MAX:
        raise reads.FilterRequired(f"If-Match: {if_match!r} is not a case version (e.g. 3)")
    return int(text)


# -- notices ---------------------------------------------------------------------------------


@router.post(
    "/notices",
    status_code=201,
    response_model=Receipt,
    summary="file a notice: one case per listing",
    openapi_extra=permission("file_notice"),
    responses=responses(403, 409, 413, 422),
    tags=["notices"],
)
def file_notice(
    request: Request, submission: NoticeSubmission, actor: Who, key: IdempotencyKey = None
) -> JSONResponse:
    """File a notice as the token's notifier user (`submitted_by` must name it). Filing the
    same `notice_id` with the same listings again answers with the same cases."""

    def command(ntd: Ntd) -> Receipt:
        receipt = ntd.app.file_notice(submission, actor)
        return Receipt(
            notice_id=receipt.notice_id,
            client_notice_id=receipt.client_notice_id,
            lane=receipt.lane,
            cases=[FiledCaseOut(**vars(c)) for c in receipt.cases],
        )

    return _run(request, actor, key, submission, command, status=201)


# -- reading cases ---------------------------------------------------------------------------


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
        datetime | None, Query(description="only cases with an open deadline due by then")
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
    as_of: datetime | None = None,
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
        detail = reads.case_detail(ntd, actor, case_id, version, as_of)
        if min_version is not None:
            past = version is not None or as_of is not None
            latest = reads.latest_version(ntd, actor, case_id) if past else detail.version
            _await(here, ntd, case_id, min_version, latest)
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
        messages, current = reads.conversation(ntd, actor, case_id)
        _await(here, ntd, case_id, min_version, current)
    return messages


# -- commands on cases -----------------------------------------------------------------------


class Decision(Body):
    """A decision's statement of reasons (DSA Art. 17). Only `facts` is required: the rest
    default as the CLI's do (a removal: illegal content, listing disabled; a refusal or
    reinstatement: not illegal, nothing restricted; the legal ground from the right type)."""

    facts: str = Field(description="the facts and circumstances relied on (≤ 5000 chars)")
    ground: DecisionGround | None = None
    legal_ground: str | None = None
    visibility: list[Visibility] = Field(default_factory=list)
    automated_detection: bool = False
    automated_decision: AutomatedDecision = AutomatedDecision.NOT_AUTOMATED
    territorial_scope: list[str] = Field(default_factory=list, description="ISO country codes")
    despite_genuine: bool = Field(
        False,
        description="decide so although the notifier answered `genuine` (removals only)",
    )


DECISIONS: dict[str, tuple[str, bool, str]] = {
    "take-down": ("take_down", True, "take the listing down"),
    "decline": ("decline", False, "decline the notice for this listing"),
    "confirm": ("confirm_takedown", True, "review of a trusted-lane takedown: it stands"),
    "reverse": ("reverse_takedown", False, "review of a trusted-lane takedown: undo it"),
    "uphold-appeal": ("uphold_appeal", False, "the counter-notice succeeds: reinstate"),
    "reject-appeal": ("reject_appeal", True, "the counter-notice fails: the takedown stands"),
}
"""Path, service method (= permission row), whether it removes, summary. A decision requires
If-Match: of two agents deciding on one version, the second gets 412."""
GENUINE_AWARE = {"take_down", "confirm_takedown", "reject_appeal"}


def _decision_route(path: str, method: str, removal: bool, summary: str) -> None:
    def decide(
        request: Request,
        case_id: CaseId,
        body: Decision,
        actor: Who,
        if_match: IfMatch = None,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        expected = _version(if_match, required=True)

        def command(ntd: Ntd) -> CaseChanged:
            app = ntd.app
            allowed(method, actor, app.own_grants(actor))  # refused before the case is read
            case = app.case(case_id, actor)
            given = reasons.statement(
                case.right_type,
                removal,
                body.facts,
                ground=body.ground,
                legal=body.legal_ground,
                visibility=body.visibility,
                automated_detection=body.automated_detection,
                automated_decision=body.automated_decision,
                territory=body.territorial_scope,
            )
            extra: dict[str, Any] = {"expected_version": expected}
            if method in GENUINE_AWARE:
                extra["despite_genuine"] = body.despite_genuine
            return _changed(getattr(app, method)(case_id, given, actor, **extra))

        return _run(request, actor, key, body, command)

    decide.__name__ = method
    decide.__doc__ = f"{summary[0].upper()}{summary[1:]}; needs If-Match with the case version."
    router.post(
        f"/cases/{{case_id}}/{path}",
        response_model=CaseChanged,
        summary=summary,
        openapi_extra=permission(method),
        responses=responses(403, 404, 409, 412, 413, 422, 428),
        tags=["decisions"],
    )(decide)


for _path, (_method, _removal, _summary) in DECISIONS.items():
    _decision_route(_path, _method, _removal, _summary)


class Question(Body):
    question: str = Field(description="what the notice lacks")


class Answer(Body):
    answer: str


class IdentificationAsk(Body):
    question: str = Field(description="what the notifier should judge (≤ 2000 chars)")
    items: list[IdentificationItem] = Field(default_factory=list)


class Identification(Body):
    verdict: Authenticity
    basis: str = Field(description="what the verdict rests on (≤ 5000 chars)")
    evidence: list[Evidence] = Field(default_factory=list)


class MessageIn(Body):
    text: str = Field(description="the message (≤ 4000 chars; newlines and tabs ok)")
    evidence: list[Evidence] = Field(default_factory=list)


class CounterNotice(Body):
    statement: str = Field(description="why the takedown is wrong")
    consent: bool = Field(False, description="consent to the court's jurisdiction")


class Litigation(Body):
    court: str
    reference: str = Field(description="the court's case reference")


class Reason(Body):
    reason: str


Step = Callable[[NtdApplication, UUID, Actor, Any, int | None], Case]
"""A command given the application, the case, the actor, the body and the expected version."""


def _step(path: str, row: str, summary: str, body_model: type[Body] | None, step: Step) -> None:
    """Register a command that is not a decision: If-Match optional (412 when stale)."""

    def endpoint(
        request: Request,
        case_id: CaseId,
        actor: Who,
        body: Any = None,
        if_match: IfMatch = None,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        expected = _version(if_match, required=False)
        return _run(
            request,
            actor,
            key,
            body,
            lambda ntd: _changed(step(ntd.app, case_id, actor, body, expected)),
        )

    endpoint.__signature__ = _with_body(endpoint, body_model)  # type: ignore[attr-defined]
    endpoint.__name__ = row
    endpoint.__doc__ = f"{summary[0].upper()}{summary[1:]}. If-Match (optional): 412 when stale."
    router.post(
        f"/cases/{{case_id}}/{path}",
        response_model=CaseChanged,
        summary=summary,
        openapi_extra=permission(row),
        responses=responses(403, 404, 409, 412, 413, 422),
        tags=["cases"],
    )(endpoint)


def _with_body(function: Callable[..., Any], model: type[Body] | None) -> inspect.Signature:
    """The endpoint's signature with its body required and of the command's model (a real
    class, which FastAPI reads as the JSON body), or without a body."""
    signature = inspect.signature(function)
    parameters = []
    for name, parameter in signature.parameters.items():
        if name == "body":
            if model is None:
                continue
            parameter = parameter.replace(annotation=model, default=inspect.Parameter.empty)
        parameters.append(parameter)
    return signature.replace(parameters=parameters)


_step(
    "clarification-request",
    "request_clarification",
    "ask the notifier for what the notice lacks",
    Question,
    lambda app, case_id, actor, body, v: app.request_clarification(
        case_id, body.question, actor, expected_version=v
    ),
)
_step(
    "clarification",
    "provide_clarification",
    "answer a clarification request (the notifier)",
    Answer,
    lambda app, case_id, actor, body, v: app.provide_clarification(
        case_id, body.answer, actor, expected_version=v
    ),
)
_step(
    "identification-request",
    "request_identification",
    "ask the notifier whether the listing's goods are genuine",
    IdentificationAsk,
    lambda app, case_id, actor, body, v: app.request_identification(
        case_id, body.question, body.items, actor, expected_version=v
    ),
)
_step(
    "identification",
    "answer_identification",
    "answer an identification request: counterfeit, genuine or cannot_tell (the notifier)",
    Identification,
    lambda app, case_id, actor, body, v: app.answer_identification(
        case_id, body.verdict, body.basis, body.evidence, actor, expected_version=v
    ),
)
_step(
    "messages",
    "post_message",
    "post a message on the case's conversation",
    MessageIn,
    lambda app, case_id, actor, body, v: app.post_message(
        case_id, body.text, body.evidence, actor, expected_version=v
    ),
)
_step(
    "counter-notice",
    "counter_notice",
    "appeal the takedown (the listing's seller)",
    CounterNotice,
    lambda app, case_id, actor, body, v: app.counter_notice(
        case_id, body.statement, body.consent, actor, expected_version=v
    ),
)
_step(
    "forward",
    "forward_to_notifier",
    "forward the counter-notice to the notifier",
    None,
    lambda app, case_id, actor, _, v: app.forward_to_notifier(case_id, actor, expected_version=v),
)
_step(
    "litigation",
    "report_litigation",
    "report that the notifier went to court: the listing stays down",
    Litigation,
    lambda app, case_id, actor, body, v: app.report_litigation(
        case_id, body.court, body.reference, actor, expected_version=v
    ),
)
_step(
    "withdraw",
    "withdraw",
    "retract the notice for this listing (the notifier)",
    Reason,
    lambda app, case_id, actor, body, v: app.withdraw(
        case_id, body.reason, actor, expected_version=v
    ),
)
_step(
    "close",
    "close_case",
    "close the case for good",
    Reason,
    lambda app, case_id, actor, body, v: app.close_case(
        case_id, body.reason, actor, expected_version=v
    ),
)


# -- queue, notifiers, dashboards ------------------------------------------------------------


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
    at: Annotated[datetime | None, Query(description="figures as of this time [now]")] = None,
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


# -- the audit trail -------------------------------------------------------------------------

AUDIT_MEDIA = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv"}


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
    since: datetime | None = None,
    until: datetime | None = None,
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
        _audit_stream(here, actor, query, limit, format), media_type=AUDIT_MEDIA[format]
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
    if value is None or value in EVENT_TYPES:
        return value
    raise reads.FilterRequired(
        f"type: no event is of type {value!r}; the types are {', '.join(EVENT_TYPES)}"
    )


def _audit_stream(
    here: Portal, actor: Actor, query: AuditQuery, limit: int | None, fmt: str
) -> Iterator[str]:
    """The rows as text, a chunk per row; the borrowed system is held until the end."""
    with here.ntd() as ntd:
        rows = reads.audit_rows(ntd, actor, query, here.caught_up)
        try:
            chosen = islice(rows, limit) if limit is not None else rows
            yield from _formatted(chosen, fmt)
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()


def _formatted(rows: Iterator[AuditRow], fmt: str) -> Iterator[str]:
    names = list(AuditRow.model_fields)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(names)
        for row in rows:
            data = row.model_dump(mode="json")
            writer.writerow(["" if data[n] is None else data[n] for n in names])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()
        return
    first = True
    if fmt == "json":
        yield "["
    for row in rows:
        data = row.model_dump(mode="json")
        if fmt == "jsonl":
            for key in ("payload", "reasons"):  # nested JSON, as `ntd audit query` writes it
                if isinstance(data.get(key), str):
                    data[key] = json.loads(data[key])
            yield json.dumps(data, ensure_ascii=False) + "\n"
        else:
            yield ("" if first else ",") + json.dumps(data, ensure_ascii=False)
        first = False
    if fmt == "json":
        yield "]"


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


# -- who am I --------------------------------------------------------------------------------


@router.get(
    "/me",
    response_model=Me,
    summary="the token's principal and the roles it holds",
    openapi_extra=permission("own_grants"),
    responses=responses(403),
    tags=["access"],
)
def me(request: Request, actor: Who) -> Me:
    """Who you are to ntd: the principal and its grants now."""
    with portal(request).ntd() as ntd:
        grants = ntd.app.own_grants(actor)
    return Me(principal=str(actor.principal), kind=actor.kind, grants=grants)
