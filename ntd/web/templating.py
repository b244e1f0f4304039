"""The pages' templates: one Jinja2 environment, autoescaping every template, and `render`,
which gives each page the signed-in user, the CSRF value for its forms and the navigation.

Everything a user typed reaches the HTML through autoescaping: no template marks text safe,
and the only `Markup` handed to templates is the SVG of ntd/web/charts.py, which escapes its
labels itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from domain.access import Grant
from domain.permissions import PERMISSIONS, Scope
from domain.values import Actor, Role

TEMPLATES = Path(__file__).parent / "templates"
FLASH_COOKIE = "ntd_flash"
"""A message for the page after a redirect (post-redirect-get), shown once."""
DASH = "—"


def when(moment: datetime | None) -> str:
    """A moment in UTC to the minute, as the CLI prints it."""
    if moment is None:
        return DASH
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def relative(moment: datetime | None, now: datetime) -> str:
    """`in 3 d 4 h` or `2 h ago` (the CLI's wording)."""
    if moment is None:
        return DASH
    seconds = (moment - now).total_seconds()
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        span = f"{days} d {hours} h" if hours else f"{days} d"
    elif hours:
        span = f"{hours} h"
    else:
        span = f"{mins} min"
    return f"in {span}" if seconds >= 0 else f"{span} ago"


def pct(share: float | None) -> str:
    return DASH if share is None else f"{share * 100:.1f} %"


def hours(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f} h"


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


def brief(payload: Mapping[str, Any], most: int = 240) -> str:
    """An event's payload on one line (`key: value · ...`), nested values as JSON, shortened."""
    parts = []
    for key, value in payload.items():
        if key in ("step", "originator_topic") or value in (None, [], {}, ""):
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    line = " · ".join(parts)
    return line if len(line) <= most else line[: most - 1] + "…"


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
ENV.filters.update(when=when, pct=pct, hours=hours, label=label, brief=brief)
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


def flash(response: Response, message: str) -> None:
    """Show `message` once, on the page the browser is redirected to."""
    response.set_cookie(FLASH_COOKIE, quote(message), max_age=60, httponly=True, samesite="lax")


def render(
    request: Request, name: str, context: Mapping[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The page `name` with the context, the user (request.state.actor, set once the session
    is checked), its navigation, the CSRF value for forms and any flashed message."""
    from ntd.web import auth  # the app imports the pages; the pages need auth only per request

    actor: Actor | None = getattr(request.state, "actor", None)
    grants: list[Grant] = getattr(request.state, "grants", [])
    csrf = auth.csrf_token(request)
    message = unquote(request.cookies.get(FLASH_COOKIE, ""))
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
    if message:
        response.delete_cookie(FLASH_COOKIE)
    auth.finish(request, response)  # the anonymous id behind the login form's CSRF value
    return response
