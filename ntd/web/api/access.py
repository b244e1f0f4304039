"""Who the token names: GET /me."""

from __future__ import annotations

from fastapi import Request

from ntd.web.api.common import Who, permission, router
from ntd.web.api.models import Me
from ntd.web.problems import responses
from ntd.web.runtime import portal


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
