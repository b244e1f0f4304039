"""Who is asking: bearer tokens for the API, a signed session cookie for the pages, CSRF
tokens for their forms and the failed-login limit.

The session cookie holds the token's id and the session's expiry, signed with HMAC-SHA256 under
the portal's key; never the token's secret. Every request re-checks the token by its id, so a
revoked or expired token ends the session at once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, unquote
from uuid import UUID

import structlog
from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.permissions import Forbidden
from domain.token import TokenLapsed, parse
from domain.values import Actor, Unauthenticated
from ntd.config import ConfigError
from ntd.web.runtime import Portal, portal

log = structlog.get_logger("ntd.web")
SESSION_COOKIE = "ntd_session"
ANON_COOKIE = "ntd_anon"
"""A random id for a visitor not logged in, so the login form has a CSRF token too."""
ANON_SECONDS = 12 * 3600
KEY_FILE = "session.key"
bearer = HTTPBearer(auto_error=False, description="a token from `ntd tokens create PRINCIPAL`")


class LoginRequired(Exception):
    """A page needs a logged-in user; the app answers 303 to /login?next=…"""

    def __init__(self, next_url: str = "/") -> None:
        super().__init__(next_url)
        self.next_url = safe_next(next_url)

    @property
    def location(self) -> str:
        return f"/login?next={quote(self.next_url, safe='/')}"


class CsrfRejected(Forbidden):
    """A form came without the CSRF token of this session (403)."""


# -- the API: bearer tokens ------------------------------------------------------------------


def api_actor(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Actor:
    """The principal of the request's bearer token (401 without a live one), once its token
    has requests left this minute (429)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required: Authorization: Bearer ntd_…")
    here = portal(request)
    with here.ntd() as ntd, _logged_lapse():
        actor = ntd.app.authenticate(credentials.credentials)
    here.api_limits.take(parse(credentials.credentials)[0].hex)
    request.state.actor = actor
    return actor


@contextmanager
def _logged_lapse() -> Iterator[None]:
    """Why a real token was refused goes to the log for the operators; the caller is told
    only that the token is not valid."""
    try:
        yield
    except TokenLapsed as lapsed:
        log.info("token_refused", reason=lapsed.reason)
        raise


# -- the pages: the session cookie -----------------------------------------------------------


def page_actor(request: Request) -> Actor:
    """The logged-in principal; LoginRequired (a redirect to the login page) without a live
    session."""
    here = portal(request)
    session = _session(request, here)
    if session is None:
        raise LoginRequired(_here(request))
    try:
        with here.ntd() as ntd:
            actor = ntd.app.session_principal(session.token_id, session.opened)
    except Unauthenticated:
        raise LoginRequired(_here(request)) from None
    request.state.actor = actor
    return actor


def login(request: Request, response: Response, token_text: str) -> Actor:
    """Check a token given in the login form and start a session on `response`. Failed logins
    are limited per client (TooManyAttempts: 429), so guessing is slow as well as hopeless."""
    here = portal(request)
    client = _client(request)
    here.logins.check(client)
    try:
        with here.ntd() as ntd, _logged_lapse():
            actor = ntd.app.authenticate(token_text)
    except Unauthenticated:
        here.logins.failed(client)
        raise
    here.logins.succeeded(client)
    token_id, _ = parse(token_text)
    opened = here.clock.now()
    expires = opened + timedelta(hours=here.web.session_hours)
    value = _sign(here, f"{token_id.hex}.{int(expires.timestamp())}.{_micros(opened)}")
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(here.web.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=here.web.secure_cookies,
        path="/",
    )
    request.state.actor = actor
    return actor


def logout(request: Request, response: Response) -> None:
    """End the session: in this browser, and on the server for every session opened with
    its token until now, so a copy of the cookie opens nothing either. The token itself
    stays valid for the API and a new login."""
    here = portal(request)
    session = _session(request, here)
    if session is not None:
        with here.ntd() as ntd, suppress(Unauthenticated):  # already over: nothing to end
            ntd.app.end_sessions(session.token_id)
    forget(response)


def forget(response: Response) -> None:
    """Drop the session cookie from this browser."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def safe_next(text: str | None) -> str:
    """Where to go after logging in: a path on this site only (never `//host` or a URL)."""
    if not text or not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    return text


# -- CSRF ------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The value of the hidden field `csrf` of every form: bound to the session, or to the
    visitor's anonymous id before login (set on the response that goes out)."""
    here = portal(request)
    return _mac(here, _csrf_subject(request, here))


def check_csrf(request: Request, value: str | None) -> None:
    """Refuse (CsrfRejected, 403) a form whose `csrf` field is not this session's token."""
    here = portal(request)
    expected = _mac(here, _csrf_subject(request, here, create=False))
    if not value or not hmac.compare_digest(expected, value):
        raise CsrfRejected("the form has expired or did not come from this site; reload it")


def finish(request: Request, response: Response) -> None:
    """Set the anonymous id `csrf_token` chose on this response now (the guard would add it
    to the response that goes out anyway; this is for a response built by hand)."""
    for name, value in pending_cookies(request.scope):
        response.raw_headers.append((name, value))
    request.state.anon_sent = True


def pending_cookies(scope: MutableMapping[str, Any]) -> list[tuple[bytes, bytes]]:
    """The Set-Cookie header of the anonymous id `csrf_token` chose while answering this
    request, if it chose one (the app's guard adds it to whatever response goes out)."""
    state = scope.get("state") or {}
    anon = state.get("new_anon")
    web = state.get("cookie_flags")
    if not anon or state.get("anon_sent"):
        return []
    flags = "; Secure" if web else ""
    value = f"{ANON_COOKIE}={anon}; Max-Age={ANON_SECONDS}; Path=/; HttpOnly; SameSite=lax{flags}"
    return [(b"set-cookie", value.encode())]


def _csrf_subject(request: Request, here: Portal, create: bool = True) -> str:
    session = request.cookies.get(SESSION_COOKIE)
    if session and _session(request, here) is not None:
        return "session|" + session
    anon = getattr(request.state, "new_anon", None) or request.cookies.get(ANON_COOKIE)
    if not anon or len(anon) != 32:
        if not create:
            return "anon|none"  # a form without its cookie never matches
        anon = secrets.token_hex(16)
        request.state.new_anon = anon
        request.state.cookie_flags = here.web.secure_cookies
    return "anon|" + anon


# -- signing ---------------------------------------------------------------------------------


class Session(NamedTuple):
    """What a session cookie says: the token it was opened with, when, and until when."""

    token_id: UUID
    opened: datetime
    expires: datetime


def _session(request: Request, here: Portal) -> Session | None:
    """The session of a well-signed, unexpired session cookie."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    body, _, mac = raw.rpartition(".")
    if not body or not hmac.compare_digest(_mac(here, body), mac):
        return None
    try:
        ident, until, opened = body.split(".")
        session = Session(
            UUID(hex=ident),
            datetime.fromtimestamp(0, UTC) + timedelta(microseconds=int(opened)),
            datetime.fromtimestamp(int(until), UTC),
        )
    except (ValueError, OverflowError):
        return None
    if session.expires <= here.clock.now():
        return None
    return session


def _micros(moment: datetime) -> int:
    """A moment as whole microseconds since 1970: exact, so the session opened at this
    moment compares exactly with a logout's time."""
    return (moment - datetime.fromtimestamp(0, UTC)) // timedelta(microseconds=1)


def _sign(here: Portal, body: str, purpose: str = "session") -> str:
    return f"{body}.{_mac(here, body, purpose)}"


def _mac(here: Portal, body: str, purpose: str = "session") -> str:
    """The body's MAC for one purpose: a value signed for one cookie is no other cookie."""
    signed = f"{purpose}|{body}".encode()
    digest = hmac.new(session_key(here), signed, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signed_value(request: Request, text: str, purpose: str) -> str:
    """`text` with the portal's MAC for `purpose`, to keep in a cookie."""
    return _sign(portal(request), quote(text, safe=""), purpose)


def verified_value(request: Request, raw: str, purpose: str) -> str | None:
    """The text of a cookie value made by `signed_value` for `purpose`; None if forged."""
    body, _, mac = raw.rpartition(".")
    if not body or not hmac.compare_digest(_mac(portal(request), body, purpose), mac):
        return None
    return unquote(body)


def session_key(here: Portal) -> bytes:
    """The portal's signing key: NTD_SESSION_SECRET, else the key file in the data dir (made
    once, atomically, mode 0600: every worker on the machine reads the same key)."""
    if here.session_key is not None:
        return here.session_key
    if here.web.session_secret is not None:
        if len(here.web.session_secret) < 32:
            raise ConfigError("NTD_SESSION_SECRET must be at least 32 characters")
        key = here.web.session_secret.encode()
    else:
        key = _key_file(here.settings.data_dir / KEY_FILE)
    here.session_key = key
    return key


def _key_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, secrets.token_hex(32).encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(draft, path)  # atomic: of workers starting together, one key wins
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by others: chmod 600 it (it signs sessions)")
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise ConfigError(f"{path} holds no usable key; delete it to make a new one")
    return key


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _here(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query
