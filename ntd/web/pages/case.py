"""One case's page: the case now or as it stood, its timeline, and the forms the user may use
on it, each a POST route that gives its command at the version the page showed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from domain.case import Authenticity, Case, ItemKind
from domain.permissions import Forbidden
from domain.values import DomainError, NotFound, StaleVersion, Unauthenticated
from ntd import reads
from ntd.bootstrap import Ntd
from ntd.web import forms
from ntd.web.forms import FormInvalid, checked, text
from ntd.web.pages.case_actions import ACTIONS, Action, offered
from ntd.web.pages.common import CurrentUser, Posted, User, now_of, router, rule, see_other
from ntd.web.problems import status_of
from ntd.web.runtime import portal
from ntd.web.templating import render

CHOICES = {
    "grounds": [(k, k.replace("_", " ")) for k in forms.GROUNDS],
    "visibilities": [(k, k.replace("_", " ")) for k in forms.VISIBILITIES],
    "automation": [(k, k.replace("_", " ")) for k in forms.AUTOMATION if k != "not_automated"],
    "verdicts": [(a.value, a.value.replace("_", " ")) for a in Authenticity],
    "item_kinds": ", ".join(k.value for k in ItemKind),
}
NO_VERSION = 0
"""The version a form lacking one is checked against: no case is ever at version 0."""
STALE = (
    "The case changed since you opened it (it is now at version {version}): nothing was done. "
    "Read it again below and decide on what it is now."
)


def _case_page(
    request: Request,
    ntd: Ntd,
    user: User,
    case_id: UUID,
    *,
    version: int | None = None,
    as_of: datetime | None = None,
    active: str = "",
    values: Any = None,
    errors: dict[str, list[str]] | None = None,
    alert: str = "",
    status_code: int = 200,
) -> Response:
    here = portal(request)
    detail = reads.case_detail(here.caught_up(ntd), user.actor, case_id, version, as_of)
    past = version is not None or as_of is not None
    label = ""
    if as_of is not None:
        label = f"at {as_of:%Y-%m-%d %H:%M} UTC (version {detail.version})"
    elif version is not None:
        label = f"at version {detail.version}"
    context = {
        "title": f"Case {detail.listing.marketplace}/{detail.listing.listing_id}",
        "detail": detail,
        "past": label,
        "actions": [] if past else offered(detail, user),
        "staff": user.may("take_down"),
        "choices": CHOICES,
        "active": active,
        "values": values if values is not None else FormData(),
        "empty": FormData(),
        "errors": errors or {},
        "alert": alert,
        "now": now_of(ntd),
        "as_of_value": f"{as_of:%Y-%m-%dT%H:%M}" if as_of else "",
    }
    return render(request, "case.html", context, status_code=status_code)


@router.get("/cases/{case_id}", openapi_extra=rule("read_cases"))
def case_page(request: Request, case_id: UUID, user: CurrentUser) -> Response:
    """A case, now or as it stood at `version` or `as_of`, with the forms the user may use."""
    bad = FormInvalid()
    as_of = forms.optional_time(request.query_params.get("as_of", ""), "as_of", bad)
    version_text = request.query_params.get("version", "").strip()
    version = forms.version_number(version_text)
    if version_text and version is None:
        bad.add("version", f"{version_text!r} is not a version (1, 2, ...)")
    if as_of is not None and version is not None:
        version = None  # the time chosen in the form wins over a version link
    with portal(request).ntd() as ntd:
        return _case_page(
            request,
            ntd,
            user,
            case_id,
            version=version,
            as_of=as_of,
            alert=str(bad) if bad.errors else "",
            status_code=422 if bad.errors else 200,
        )


def _act(action: Action, request: Request, case_id: UUID, user: User, form: FormData) -> Response:
    """Give the command of one of the case page's forms, at the version the page showed; a
    refusal shows the page again, the form open with its problems, or why the case took no
    step (a stale version: 412)."""
    version_text = text(form, "version")
    version = forms.version_number(version_text)

    def again(ntd: Ntd, status: int, **shown: Any) -> Response:
        return _case_page(
            request,
            ntd,
            user,
            case_id,
            active=action.slug,
            values=form,
            status_code=status,
            **shown,
        )

    with portal(request).ntd() as ntd:
        try:
            case = ntd.app.case(case_id, user.actor)
            args, options = _arguments(action, form, case)
            if action.versioned:  # a form without a version (tampered) is stale, never unchecked
                options["expected_version"] = version or NO_VERSION
            changed: Case = getattr(ntd.app, action.command)(case_id, *args, user.actor, **options)
        except FormInvalid as bad:
            return again(ntd, 422, errors=bad.errors)
        except StaleVersion:
            current = ntd.app.case(case_id, user.actor).version
            return again(ntd, 412, alert=STALE.format(version=current))
        except (Forbidden, NotFound, Unauthenticated):
            raise
        except DomainError as refused:  # the lifecycle or a guard said no: say why, here
            return again(ntd, status_of(refused), alert=str(refused))
    deadlines = ", ".join(
        f"{kind.value} due {due:%Y-%m-%d %H:%M} UTC"
        for kind, due in sorted(changed.deadlines.items(), key=lambda kv: kv[1])
    )
    message = f"{action.title}: done. The case is {changed.state.value.replace('_', ' ')} "
    message += f"(version {changed.version})" + (f"; {deadlines}." if deadlines else ".")
    return see_other(request, f"/cases/{case_id}", message)


def _arguments(
    action: Action, form: FormData, case: Case
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The command's arguments between the case id and the actor, and its options."""
    parse: dict[str, Callable[[], tuple[Any, ...]]] = {
        "reasons": lambda: (forms.statement_of_reasons(form, case.right_type, action.removal),),
        "question": lambda: (forms.required(form, "question"),),
        "answer": lambda: (forms.required(form, "answer"),),
        "identification": lambda: forms.gather(
            lambda: forms.required(form, "question"), lambda: forms.identification_items(form)
        ),
        "identify": lambda: forms.gather(
            lambda: forms.verdict(form),
            lambda: forms.required(form, "basis"),
            lambda: forms.evidence(form),
        ),
        "message": lambda: forms.gather(
            lambda: forms.required(form, "text"), lambda: forms.evidence(form)
        ),
        "counter": lambda: (forms.required(form, "statement"), checked(form, "consent")),
        "litigation": lambda: forms.gather(
            lambda: forms.required(form, "court"), lambda: forms.required(form, "reference")
        ),
        "reason": lambda: (forms.required(form, "reason"),),
        "none": lambda: (),
    }
    options = {"despite_genuine": checked(form, "despite_genuine")} if action.despite else {}
    return parse[action.form](), options


def _action_route(action: Action) -> None:
    """POST /cases/{case_id}/<slug>: one route per action, each naming its row of the table."""

    def endpoint(request: Request, case_id: UUID, user: CurrentUser, form: Posted) -> Response:
        return _act(action, request, case_id, user, form)

    endpoint.__name__ = f"case_{action.command}"
    router.add_api_route(
        f"/cases/{{case_id}}/{action.slug}",
        endpoint,
        methods=["POST"],
        openapi_extra=rule(action.command),
    )


for _action in ACTIONS:
    _action_route(_action)
