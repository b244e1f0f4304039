"""The pages' templates: one Jinja2 environment, autoescaping every template, and `render`,
which gives each page the signed-in user, the CSRF value for its forms and the navigation.

Everything a user typed reaches the HTML through autoescaping: no template marks text safe,
and the only `Markup` handed to templates is the SVG of ntd/web/charts.py, which escapes its
labels itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from domain.access import Grant
from domain.permissions import PERMISSIONS, Scope
from domain.values import Actor, Role
from ntd.formats import DASH, hours, pct, relative, when

TEMPLATES = Path(__file__).parent / "templates"
FLASH_COOKIE = "ntd_flash"
"""A message for the page after a redirect (post-redirect-get), shown once."""


DSA_PREFIXES = ("DECISION_GROUND_", "DECISION_VISIBILITY_", "AUTOMATED_DECISION_", "SOURCE_")
"""The DSA transparency database's value prefixes: the page shows what follows them."""


def label(value: Any) -> str:
    """An enum or a snake_case word as words (`taken_down` -> `taken down`,
    `DECISION_GROUND_ILLEGAL_CONTENT` -> `illegal content`)."""
    raw = getattr(value, "value", value)
    if raw is None:
        return DASH
    text = str(raw)
    for prefix in DSA_PREFIXES:
        if text.startswith(prefix):
            text = text.removeprefix(prefix).lower()
    return text.replace("_", " ")


def with_query(path: str, params: Mapping[str, Any]) -> str:
    """A link with the non-empty parameters (lists repeat their key)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item not in (None, ""):
                pairs.append((key, str(item)))
    return f"{path}?{urlencode(pairs)}" if pairs else path


ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a misspelt name fails the test that renders it
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(when=when, pct=pct, hours=hours, label=label)
ENV.globals.update(relative=relative, with_query=with_query)


# -- navigation -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    text: str


def _roles_for(row: str, scope: Scope | None = None) -> frozenset[Role]:
    """The roles the permission table gives `row` (of one scope): links follow the table,
    never a list of roles of their own. The service still checks every request."""
    return frozenset(
        role for role, s in PERMISSIONS[row].roles.items() if scope is None or s is scope
    )


NAV: tuple[tuple[str, str, str, Scope | None], ...] = (
    ("/brand", "Dashboard", "read_dashboard", Scope.OWN_NOTIFIER),
    ("/brand/notice", "File a notice", "file_notice", Scope.OWN_NOTIFIER),
    ("/queue", "Queue", "take_down", None),
    ("/seller", "My cases", "counter_notice", Scope.OWN_SELLER),
    ("/audit", "Audit trail", "read_audit", None),
)
"""The sections: path, link text, and the table row (and scope) whose roles see the link."""


def nav_for(grants: Iterable[Grant]) -> list[Link]:
    """The sections a principal with these grants works in."""
    held = {g.role for g in grants}
    return [Link(href, text) for href, text, row, scope in NAV if held & _roles_for(row, scope)]


# -- rendering -----------------------------------------------------------------------------


def flash(request: Request, response: Response, message: str) -> None:
    """Show `message` once, on the page the browser is redirected to. Signed: a cookie set by
    someone else (a sibling site, a network in the middle) shows no words of theirs here."""
    from ntd.web import auth

    value = auth.signed_value(request, message, "flash")
    response.set_cookie(FLASH_COOKIE, value, max_age=60, httponly=True, samesite="lax")


def render(
    request: Request, name: str, context: Mapping[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The page `name` with the context, the user (request.state.actor, set once the session
    is checked), its navigation, the CSRF value for forms and any flashed message."""
    from ntd.web import auth  # the app imports the pages; the pages need auth only per request

    actor: Actor | None = getattr(request.state, "actor", None)
    grants: list[Grant] = getattr(request.state, "grants", [])
    csrf = auth.csrf_token(request)
    flashed = request.cookies.get(FLASH_COOKIE, "")
    message = (auth.verified_value(request, flashed, "flash") or "") if flashed else ""
    page = {
        "request": request,
        "actor": actor,
        "nav": nav_for(grants) if actor is not None else [],
        "csrf": csrf,
        "flash": message,
        "path": request.url.path,
        "now": datetime.now(UTC),
        "title": "ntd",
        "errors": {},
        "values": {},
        **context,
    }
    response = HTMLResponse(ENV.get_template(name).render(page), status_code=status_code)
    if flashed:
        response.delete_cookie(FLASH_COOKIE)
    auth.finish(request, response)  # the anonymous id behind the login form's CSRF value
    return response
