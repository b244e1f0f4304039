"""A seller: its cases, with what it may still do on each and by when."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from domain.access import SellerKey
from ntd import reads
from ntd.web.forms import FormInvalid
from ntd.web.pages.common import PAGE_SIZE, CurrentUser, now_of, pager, router, rule, status
from ntd.web.runtime import portal
from ntd.web.templating import render
from projections.queues import seller_next


@router.get("/seller", openapi_extra=rule("read_cases"))
def seller_cases(request: Request, user: CurrentUser) -> Response:
    """A seller's cases with what it may still do on each and by when."""
    here = portal(request)
    bad = FormInvalid()
    chosen = request.query_params.get("seller", "").strip()
    seller: SellerKey | None = None
    if chosen:
        try:
            seller = SellerKey.parse(chosen)
        except ValueError as error:
            bad.add("seller", str(error))
    elif user.sellers:
        seller = user.sellers[0]
    filters = reads.CaseFilters(
        seller=seller, limit=PAGE_SIZE, cursor=request.query_params.get("cursor") or None
    )
    with here.ntd() as ntd:
        page = reads.case_lines(ntd, user.actor, filters, here.caught_up)
        now = now_of(ntd)
    context = {
        "title": f"Cases about {seller}" if seller else "Your cases",
        "rows": [(line, seller_next(line, now)) for line in page.lines],
        "sellers": user.sellers,
        "seller": seller,
        "now": now,
        **pager(request.url.path, request, page.next_cursor),
    }
    return render(request, "seller.html", context, status_code=status(bad))
