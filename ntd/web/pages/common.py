"""What every page shares: the router, who is asking (and what the tables let it do), the
posted form once its CSRF value matches, the redirect after a form, the notifiers' navigation,
the filters' choices and the pager's links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from domain.access import NOTIFIER_ROLES, Grant, SellerKey
from domain.case import Lane
from domain.lifecycle import Deadline, State
from domain.permissions import PERMISSIONS, Forbidden, Target, reaches
from domain.values import Actor
from ntd import reads
from ntd.bootstrap import Ntd
from ntd.web import auth
from ntd.web.forms import FormInvalid, text
from ntd.web.runtime import Portal, portal
from ntd.web.templating import flash, with_query

router = APIRouter(include_in_schema=False)
"""One router for every section's module (see ntd/web/api/common.py for why not several)."""
STATE_CHOICES = [(s.value, s.value.replace("_", " ")) for s in State]
LANE_CHOICES = [(lane.value, lane.value) for lane in Lane]
DEADLINE_CHOICES = [(d.value, d.value.replace("_", " ")) for d in Deadline]
PAGE_SIZE = 50


def rule(row: str) -> dict[str, Any]:
    """The permission table's row a page exercises, as the API names its rows (`x-permission`):
    the authorization matrix reads it from every route."""
    if row not in PERMISSIONS:
        raise KeyError(f"no row {row!r} in domain.permissions.PERMISSIONS")
    return {"x-permission": row}


# -- who is asking ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class User:
    """The logged-in principal and the roles it holds now."""

    actor: Actor
    grants: tuple[Grant, ...]

    def may(self, row: str, target: Target | None = None) -> bool:
        """Whether some grant allows the table's `row` (for `target`'s parties, when given):
        to offer a link or a form only; the service decides."""
        roles = PERMISSIONS[row].roles
        return any(
            g.role in roles and (target is None or reaches(roles[g.role], g, target))
            for g in self.grants
        )

    @property
    def notifier_ids(self) -> list[UUID]:
        """The notifiers the user acts for as one of their users or registered agents."""
        ids = {g.notifier_id for g in self.grants if g.role in NOTIFIER_ROLES and g.notifier_id}
        return sorted(ids, key=str)

    @property
    def sellers(self) -> list[SellerKey]:
        return sorted({g.seller for g in self.grants if g.seller is not None}, key=str)


def current_user(request: Request) -> User:
    """The session's principal (a redirect to the login page without one) and its grants."""
    actor = auth.page_actor(request)
    with portal(request).ntd() as ntd:
        try:
            grants = tuple(ntd.app.own_grants(actor))
        except Forbidden:  # no role at all: the start page says so
            grants = ()
    request.state.grants = list(grants)
    return User(actor, grants)


async def posted_form(request: Request) -> FormData:
    """The posted form, once its CSRF value matches the session's (CsrfRejected: 403)."""
    form = await request.form()
    auth.check_csrf(request, text(form, "csrf"))
    return form


CurrentUser = Annotated[User, Depends(current_user)]
Posted = Annotated[FormData, Depends(posted_form)]


def see_other(request: Request, url: str, message: str = "") -> RedirectResponse:
    """The redirect after a form succeeded, with a message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(request, response, message)
    return response


def now_of(ntd: Ntd) -> datetime:
    return ntd.clock.now()


def as_is(ntd: Ntd) -> Ntd:
    """The catch-up for the reads after the first of a page: one catch-up serves them all."""
    return ntd


# -- what pages show around their content ----------------------------------------------------------


def notifiers(here: Portal, ntd: Ntd, user: User) -> list[tuple[UUID, str]]:
    return reads.notifiers_of(ntd, user.actor, here.caught_up)


def brand_nav(notifier_id: UUID, name: str | None, known: list[tuple[UUID, str]]) -> dict[str, Any]:
    return {
        "notifier_id": notifier_id,
        "notifier_name": name or str(notifier_id),
        "notifiers": known,
    }


def pager(path: str, request: Request, cursor: str | None) -> dict[str, str | None]:
    """Links to the first and the next page, keeping the filters."""
    kept = {k: request.query_params.getlist(k) for k in request.query_params if k != "cursor"}
    first = with_query(path, kept) if request.query_params.get("cursor") else None
    return {
        "first_page": first,
        "next_page": with_query(path, {**kept, "cursor": cursor}) if cursor else None,
    }


def status(bad: FormInvalid, ok: int = 200) -> int:
    """A page's status: 422 when its query or form has problems."""
    return 422 if bad.errors else ok
