"""What every route of the API shares: the router, the typed parameters, the permission row a
route names, the version a command is decided on, and running a command once per
Idempotency-Key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator

from domain.permissions import PERMISSIONS
from domain.values import Actor
from ntd import reads
from ntd.bootstrap import Ntd
from ntd.config import parse_time
from ntd.web.api.models import CaseChanged
from ntd.web.auth import api_actor
from ntd.web.forms import version_number
from ntd.web.idempotency import request_hash
from ntd.web.problems import PreconditionRequired, responses
from ntd.web.runtime import portal

router = APIRouter(prefix="/api/v1", responses=responses(401, 429))
"""One router for every resource module: the authorization matrix reads its routes directly,
and this FastAPI nests an included router instead of copying its routes."""
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


def permission(row: str, every_party: bool = False) -> dict[str, Any]:
    """The route's row of the permission table, in the OpenAPI document; `every_party`: the
    route shows every party's records, so only roles of scope `any` in that row reach it."""
    if row not in PERMISSIONS:
        raise KeyError(f"no row {row!r} in domain.permissions.PERMISSIONS")
    return {"x-permission": row} | ({"x-reach": "every party"} if every_party else {})


def case_command(
    endpoint: Callable[..., JSONResponse],
    path: str,
    row: str,
    summary: str,
    doc: str,
    codes: tuple[int, ...],
    tag: str,
) -> None:
    """Register a command on one case, POST /cases/{case_id}/<path>, answering its new
    version; `row` is the service's method and the permission table's row."""
    endpoint.__name__ = row
    endpoint.__doc__ = f"{summary[0].upper()}{summary[1:]}{doc}"
    router.post(
        f"/cases/{{case_id}}/{path}",
        response_model=CaseChanged,
        summary=summary,
        openapi_extra=permission(row),
        responses=responses(*codes),
        tags=[tag],
    )(endpoint)


def run(
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


def _moment(value: object) -> object:
    """A query's time read as the CLI reads one (`parse_time`): ISO, UTC when no offset is
    given, within the range of times ntd accepts."""
    return parse_time(value) if isinstance(value, str) else value


Moment = Annotated[datetime, BeforeValidator(_moment)]
"""A time in a query: every route's times obey one rule."""


def expected_version(if_match: str | None, required: bool) -> int | None:
    """The case version of `If-Match` ("3", "\\"3\\"" or W/"3"); 428 when a decision lacks it."""
    if if_match is None:
        if required:
            raise PreconditionRequired(
                "If-Match: a decision needs the case version it was decided on "
                "(If-Match: <version>, from the case's ETag or `version`)"
            )
        return None
    version = version_number(if_match.strip().removeprefix("W/").strip('"'))
    if version is None:
        raise reads.FilterRequired(f"If-Match: {if_match!r} is not a case version (e.g. 3)")
    return version
