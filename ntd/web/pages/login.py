"""Logging in and out, and the start page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from domain.values import Unauthenticated
from ntd.web import auth
from ntd.web.forms import text
from ntd.web.pages.common import CurrentUser, Posted, router, see_other
from ntd.web.templating import nav_for, render


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"title": "Log in", "next": auth.safe_next(next)})


@router.post("/login")
def login(request: Request, form: Posted) -> Response:
    """Check the token and start a session; a wrong token is refused without saying why."""
    target = auth.safe_next(text(form, "next"))
    response = see_other(request, target)
    try:
        auth.login(request, response, text(form, "token"))
    except Unauthenticated:
        context = {"title": "Log in", "next": target, "errors": {"token": ["not a valid token"]}}
        return render(request, "login.html", context, status_code=401)
    return response


@router.post("/logout")
def logout(request: Request, user: CurrentUser, form: Posted) -> Response:
    response = see_other(request, "/login", "You are logged out.")
    auth.logout(request, response)
    return response


@router.get("/")
def home(request: Request, user: CurrentUser) -> Response:
    """The first section the user's roles open (a brand's dashboard, the queue, ...)."""
    sections = nav_for(user.grants)
    if sections:
        return RedirectResponse(sections[0].href, status_code=303)
    return render(request, "home.html", {"title": "No role"})
