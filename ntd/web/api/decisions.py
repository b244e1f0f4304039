"""The decisions on a case, each with its statement of reasons and If-Match required: of two
agents deciding on one version, the second gets 412."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from domain.permissions import allowed
from ntd import reasons
from ntd.bootstrap import Ntd
from ntd.web.api.common import (
    CaseId,
    IdempotencyKey,
    IfMatch,
    Who,
    case_command,
    expected_version,
    run,
)
from ntd.web.api.models import CaseChanged, Decision

DECISIONS: dict[str, tuple[str, bool, str]] = {
    "take-down": ("take_down", True, "take the listing down"),
    "decline": ("decline", False, "decline the notice for this listing"),
    "confirm": ("confirm_takedown", True, "review of a trusted-lane takedown: it stands"),
    "reverse": ("reverse_takedown", False, "review of a trusted-lane takedown: undo it"),
    "uphold-appeal": ("uphold_appeal", False, "the counter-notice succeeds: reinstate"),
    "reject-appeal": ("reject_appeal", True, "the counter-notice fails: the takedown stands"),
}
"""Path, service method (= permission row), whether it removes, summary."""
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
        expected = expected_version(if_match, required=True)

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
            return CaseChanged.of(getattr(app, method)(case_id, given, actor, **extra))

        return run(request, actor, key, body, command)

    codes = (400, 403, 404, 409, 412, 413, 422, 428)
    doc = "; needs If-Match with the case version."
    case_command(decide, path, method, summary, doc, codes, "decisions")


for _path, (_method, _removal, _summary) in DECISIONS.items():
    _decision_route(_path, _method, _removal, _summary)
