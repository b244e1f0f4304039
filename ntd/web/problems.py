"""Every error in one place: an exception becomes its status and an RFC 9457 problem
(application/problem+json) for the API, or the same status with the error page for a browser.
No server internals reach the answer: a 500 says only "internal error" and the request id,
the traceback goes to the log."""

from __future__ import annotations

import html
import importlib
import re
import traceback
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from eventsourcing.persistence import PersistenceError
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException

from domain.lifecycle import IllegalStep
from domain.notice import NoticeRefused
from domain.permissions import Forbidden
from domain.service import ConcurrencyConflict
from domain.values import (
    AlreadyDone,
    DomainError,
    InvalidInput,
    NotFound,
    StaleVersion,
    Unauthenticated,
    problem_message,
)
from ntd.config import ConfigError
from ntd.reads import BadCursor, FilterRequired
from ntd.web.limits import RateLimited

log = structlog.get_logger("ntd.web")
PROBLEM = "application/problem+json"


class FieldError(BaseModel):
    """One bad field: where it is (dotted path) and what is wrong, as the CLI says it."""

    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem detail, with one entry per bad field in `errors`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str | None = Field(None, description="what went wrong, e.g. stale_version")
    errors: list[FieldError] = Field(default_factory=list)
    request_id: str | None = None


class PreconditionRequired(DomainError):
    """A decision came without `If-Match: <version>` (428)."""


class BodyTooLarge(DomainError):
    """The request body is larger than the cap (413)."""


class NotReady(DomainError):
    """The read model has not reached the version asked for yet (503, retry soon)."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IdempotencyReused(DomainError):
    """The Idempotency-Key was used before with another request (422)."""


class IdempotencyInFlight(DomainError):
    """A request with this Idempotency-Key is still being answered (409)."""


STATUS: tuple[tuple[type[Exception], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (StaleVersion, 412),
    (PreconditionRequired, 428),
    (BodyTooLarge, 413),
    (RateLimited, 429),
    (NotReady, 503),
    (NoticeRefused, 422),
    (InvalidInput, 422),
    (IdempotencyReused, 422),
    (FilterRequired, 422),
    (BadCursor, 422),
    (IdempotencyInFlight, 409),
    (IllegalStep, 409),
    (ConcurrencyConflict, 409),
    (AlreadyDone, 409),
    (DomainError, 409),
)
"""The first class an error is an instance of gives its status (order matters)."""

TITLES = {
    400: "bad request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    412: "precondition failed",
    413: "request body too large",
    415: "unsupported media type",
    422: "invalid input",
    428: "precondition required",
    429: "too many requests",
    500: "internal error",
    503: "not ready",
}


def status_of(error: Exception) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 500)


def code_of(error: Exception) -> str:
    """The error's class name in snake case: `StaleVersion` -> `stale_version`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


# -- per-field errors ------------------------------------------------------------------------


def _path(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def validation_errors(errors: Sequence[Any]) -> list[FieldError]:
    """Pydantic's errors as fields and messages, worded as the CLI words them."""
    found = []
    for e in errors:
        loc = list(e.get("loc", ()))
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:] if loc[0] == "body" else loc
        message = problem_message(e)
        if e.get("type") == "missing":
            message = "missing (required)"
        found.append(FieldError(field=_path(loc), message=message))
    return found


def refusal_errors(problems: Iterable[str]) -> list[FieldError]:
    """A NoticeRefused's `field: message` lines as field errors."""
    found = []
    for problem in problems:
        where, sep, message = problem.partition(": ")
        if sep and " " not in where:
            found.append(FieldError(field=where, message=message))
        else:
            found.append(FieldError(field="notice", message=problem))
    return found


# -- answering -------------------------------------------------------------------------------


def problem_for(error: Exception, request: Request) -> tuple[Problem, dict[str, str]]:
    """The problem and extra headers that answer `error`."""
    request_id = getattr(request.state, "request_id", None)
    headers: dict[str, str] = {}
    if isinstance(error, RequestValidationError | ValidationError):
        status, detail = 422, "the request has invalid fields"
        errors = validation_errors(error.errors())
        code = "invalid_input"
    elif isinstance(error, HTTPException):
        status, detail, errors, code = error.status_code, str(error.detail), [], None
        headers.update(error.headers or {})
    elif isinstance(error, ConfigError):
        status, detail, errors, code = 500, None, [], "internal_error"
    elif isinstance(error, PersistenceError):  # a store down or busy: the text is the driver's
        status, detail, errors, code = 503, "a store is unavailable; retry", [], "unavailable"
        headers["Retry-After"] = "5"
    else:
        status = status_of(error)
        detail = str(error) if status != 500 else None
        if isinstance(error, NoticeRefused):
            errors = refusal_errors(error.problems)
        elif isinstance(error, FilterRequired | BadCursor | IdempotencyReused):
            errors = refusal_errors([str(error)])  # "field: message"
        else:
            errors = []
        code = code_of(error) if status != 500 else "internal_error"
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="ntd"'
    if isinstance(error, RateLimited | NotReady):
        headers["Retry-After"] = str(error.retry_after)
    title = TITLES.get(status, "error")
    return (
        Problem(
            title=title,
            status=status,
            detail=detail,
            code=code,
            errors=errors,
            request_id=request_id,
        ),
        headers,
    )


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API, which always answers JSON)."""
    path = request.url.path
    if path.startswith("/api/") or path in ("/openapi.json", "/metrics", "/healthz", "/readyz"):
        return False
    return "text/html" in request.headers.get("accept", "")


def answer(request: Request, error: Exception) -> Response:
    """The response for an error: a problem, or the error page for a browser."""
    problem, headers = problem_for(error, request)
    if isinstance(error, PersistenceError):
        log.warning("a store is unavailable", path=request.url.path, error=type(error).__name__)
    elif problem.status == 500:
        log.error(
            "request failed",
            path=request.url.path,
            method=request.method,
            request_id=problem.request_id,
            error=type(error).__name__,
            # the traceback as text: a renderer showing local variables could print a token
            exception="".join(traceback.format_exception(error)),
        )
    if wants_html(request):
        return _page(request, problem, headers)
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        headers=headers,
        media_type=PROBLEM,
    )


def _page(request: Request, problem: Problem, headers: dict[str, str]) -> Response:
    try:
        templating = importlib.import_module("ntd.web.templating")
        page: Response = templating.render(
            request, "error.html", {"problem": problem}, status_code=problem.status
        )
        page.headers.update(headers)
        return page
    except Exception:  # no error page (yet), or it failed: say it plainly
        log.error("error page failed", request_id=problem.request_id, exception=_trace())
    text = html.escape(problem.detail or problem.title)
    body = f"<!doctype html><title>{problem.status}</title><h1>{problem.status}</h1><p>{text}</p>"
    return Response(body, status_code=problem.status, headers=headers, media_type="text/html")


def _trace() -> str:
    return traceback.format_exc()


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries of the errors a route may answer."""
    return {
        status: {
            "model": Problem,
            "description": TITLES.get(status, "error"),
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
