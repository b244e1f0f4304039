"""The commands on a case that are not decisions, from one table: If-Match is optional (412
when stale), and the body's fields, in order, are the command's arguments between the case id
and the actor."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from ntd.web.api.common import (
    CaseId,
    IdempotencyKey,
    IfMatch,
    Who,
    case_command,
    expected_version,
    run,
)
from ntd.web.api.models import (
    Answer,
    Body,
    CaseChanged,
    CounterNotice,
    Identification,
    IdentificationAsk,
    Litigation,
    MessageIn,
    Question,
    Reason,
)

STEPS: tuple[tuple[str, str, str, type[Body] | None], ...] = (
    (
        "clarification-request",
        "request_clarification",
        "ask the notifier for what the notice lacks",
        Question,
    ),
    (
        "clarification",
        "provide_clarification",
        "answer a clarification request (the notifier)",
        Answer,
    ),
    (
        "identification-request",
        "request_identification",
        "ask the notifier whether the listing's goods are genuine",
        IdentificationAsk,
    ),
    (
        "identification",
        "answer_identification",
        "answer an identification request: counterfeit, genuine or cannot_tell (the notifier)",
        Identification,
    ),
    ("messages", "post_message", "post a message on the case's conversation", MessageIn),
    (
        "counter-notice",
        "counter_notice",
        "appeal the takedown (the listing's seller)",
        CounterNotice,
    ),
    ("forward", "forward_to_notifier", "forward the counter-notice to the notifier", None),
    (
        "litigation",
        "report_litigation",
        "report that the notifier went to court: the listing stays down",
        Litigation,
    ),
    ("withdraw", "withdraw", "retract the notice for this listing (the notifier)", Reason),
    ("close", "close_case", "close the case for good", Reason),
)
"""Path, service method (= permission row), summary, body."""


def _step(path: str, method: str, summary: str, model: type[Body] | None) -> None:
    def endpoint(
        request: Request,
        case_id: CaseId,
        actor: Who,
        body: Any = None,
        if_match: IfMatch = None,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        expected = expected_version(if_match, required=False)
        args = [getattr(body, name) for name in type(body).model_fields] if body is not None else []
        return run(
            request,
            actor,
            key,
            body,
            lambda ntd: CaseChanged.of(
                getattr(ntd.app, method)(case_id, *args, actor, expected_version=expected)
            ),
        )

    endpoint.__signature__ = _with_body(endpoint, model)  # type: ignore[attr-defined]
    codes = (400, 403, 404, 409, 412, 413, 422)
    case_command(
        endpoint, path, method, summary, ". If-Match (optional): 412 when stale.", codes, "cases"
    )


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


for _path, _method, _summary, _model in STEPS:
    _step(_path, _method, _summary, _model)
