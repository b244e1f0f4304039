"""POST /notices: filing a notice, one case per listing."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from domain.notice import NoticeSubmission
from ntd.bootstrap import Ntd
from ntd.web.api.common import IdempotencyKey, Who, permission, router, run
from ntd.web.api.models import FiledCaseOut, Receipt
from ntd.web.problems import responses


@router.post(
    "/notices",
    status_code=201,
    response_model=Receipt,
    summary="file a notice: one case per listing",
    openapi_extra=permission("file_notice"),
    responses=responses(400, 403, 409, 413, 422),
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

    return run(request, actor, key, submission, command, status=201)
