"""A brand files a notice through the form (or a CSV of its listings); a refused one comes back
with every problem by its field."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from domain.notifier import RightStatus
from ntd.bootstrap import Ntd
from ntd.web import forms
from ntd.web.forms import FormInvalid
from ntd.web.pages.common import (
    CurrentUser,
    Posted,
    User,
    brand_nav,
    notifiers,
    router,
    rule,
    see_other,
)
from ntd.web.runtime import portal
from ntd.web.templating import render

NOTICE_FIELDS = (
    "right_id",
    "listings",
    "reason_code",
    "explanation",
    "evidence",
    "contact_name",
    "contact_email",
    "signature",
    "good_faith_statement",
    "accuracy_statement",
    "automated_detection",
    "notice_id",
)


def _notice_page(
    request: Request,
    ntd: Ntd,
    user: User,
    notifier_id: UUID,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> Response:
    """The notice form, with the notifier's verified rights to choose from."""
    notifier = ntd.app.notifier(notifier_id, user.actor)
    rights = [
        (str(r.right_id), f"{r.right_type.value} {r.registration_number} ({r.jurisdiction})")
        for r in notifier.rights.values()
        if r.status is RightStatus.VERIFIED
    ]
    known = notifiers(portal(request), ntd, user)
    context = {
        "title": f"File a notice · {notifier.name}",
        "rights": rights,
        "reason_codes": [(code, code.replace("_", " ")) for code in forms.reason_codes()],
        "max_listings": forms.MAX_LISTINGS,
        "values": values,
        "errors": errors,
        **brand_nav(notifier_id, notifier.name, known),
    }
    return render(request, "notice_form.html", context, status_code=status_code)


@router.get("/brand/{notifier_id}/notice", openapi_extra=rule("file_notice"))
def notice_form(request: Request, notifier_id: UUID, user: CurrentUser) -> Response:
    with portal(request).ntd() as ntd:
        return _notice_page(request, ntd, user, notifier_id, {}, {})


@router.post("/brand/{notifier_id}/notice", openapi_extra=rule("file_notice"))
def file_notice(request: Request, notifier_id: UUID, user: CurrentUser, form: Posted) -> Response:
    """File the notice; a refused one comes back with every problem by its field (the texts
    `ntd notice file` prints)."""
    values = forms.values(form, NOTICE_FIELDS)
    with portal(request).ntd() as ntd:
        try:
            submission = forms.notice(_for_notifier(form, notifier_id), user.actor)
            receipt = ntd.app.file_notice(submission, user.actor)
        except FormInvalid as bad:
            return _notice_page(request, ntd, user, notifier_id, values, bad.errors, 422)
    new = len(receipt.new_case_ids)
    message = (
        f"Notice {receipt.notice_id} accepted ({receipt.lane.value} lane): "
        f"{len(receipt.cases)} listing{'s' if len(receipt.cases) != 1 else ''}, {new} new "
        f"case{'s' if new != 1 else ''}, {len(receipt.cases) - new} already open."
    )
    return see_other(request, f"/brand/{notifier_id}/cases", message)


class _Pinned:
    """The posted form with the notifier of the page's address, whatever the form says."""

    def __init__(self, form: FormData, notifier_id: UUID) -> None:
        self.form, self.notifier_id = form, str(notifier_id)

    def get(self, key: str, /) -> Any:
        return self.notifier_id if key == "notifier_id" else self.form.get(key)

    def getlist(self, key: str, /) -> list[Any]:
        return [self.notifier_id] if key == "notifier_id" else self.form.getlist(key)


def _for_notifier(form: FormData, notifier_id: UUID) -> forms.Fields:
    return _Pinned(form, notifier_id)
