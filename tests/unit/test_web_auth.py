"""Who is asking: bearer tokens (401 without a live one), the session cookie's flags and its
re-check on every request (revocation logs out), CSRF, the failed-login limit, the signing
key shared through a 0600 file, and no secret in any log line."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, Form, Request, Response
from fastapi.testclient import TestClient

from domain.access import Grant
from domain.token import parse
from domain.values import Actor, Role
from ntd.config import Settings
from ntd.logs import configure
from ntd.web import auth
from ntd.web.app import create_app
from ntd.web.runtime import portal
from tests.unit.domain_fixtures import ADMIN, AGENT, AUDITOR, BRAND_USER
from tests.unit.test_web_api import World, make_world

pytestmark = pytest.mark.sqlite


def with_test_routes(world: World) -> World:
    """Routes that exercise the auth module alone, whatever the pages do with it."""
    web = world.web

    @web.post("/_t/login")
    def _login(request: Request, token: Annotated[str, Form()]) -> Response:
        response = Response(status_code=204)
        auth.login(request, response, token)
        return response

    @web.get("/_t/me")
    def _me(actor: Annotated[Actor, Depends(auth.page_actor)]) -> dict[str, str]:
        return {"me": str(actor)}

    @web.post("/_t/me")
    def _post_me(actor: Annotated[Actor, Depends(auth.page_actor)]) -> dict[str, str]:
        return {"me": str(actor)}

    @web.get("/_t/csrf")
    def _csrf(request: Request) -> dict[str, str]:
        return {"csrf": auth.csrf_token(request)}

    @web.post("/_t/form")
    def _form(request: Request, csrf: Annotated[str, Form()] = "") -> dict[str, str]:
        auth.check_csrf(request, csrf)
        return {"ok": "yes"}

    @web.post("/_t/logout")
    def _logout(request: Request) -> Response:
        response = Response(status_code=204)
        auth.logout(request, response)
        return response

    return world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    for made in make_world(tmp_path, login_attempts=3):
        yield with_test_routes(made)


def log_in(world: World, who: Actor = BRAND_USER) -> Response:
    answer = world.client.post("/_t/login", data={"token": world.tokens[str(who)]})
    assert answer.status_code == 204, answer.text
    return answer


# -- bearer tokens ---------------------------------------------------------------------------


def test_no_token_is_401_with_a_bearer_challenge(world: World) -> None:
    answer = world.client.get("/api/v1/cases")

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "header",
    ["Bearer nonsense", "Bearer ntd_" + "0" * 32 + "_guess", "Basic dXNlcjpwYXNz", "Bearer "],
)
def test_a_malformed_or_unknown_token_is_401(world: World, header: str) -> None:
    answer = world.client.get("/api/v1/me", headers={"Authorization": header})

    assert answer.status_code == 401


def test_a_revoked_token_is_401_from_the_next_request(world: World) -> None:
    token = world.tokens[str(AGENT)]
    assert world.client.get("/api/v1/me", headers=world.auth(AGENT)).status_code == 200

    world.ntd.app.revoke_token(parse(token)[0], "laptop stolen", ADMIN)

    answer = world.client.get("/api/v1/me", headers=world.auth(AGENT))
    assert answer.status_code == 401
    # in the words of any bad token: a stolen, revoked token tells its holder nothing
    assert answer.json()["detail"] == "not a valid token"


def test_an_expired_token_is_401(world: World) -> None:
    issued = world.ntd.app.issue_token(
        AUDITOR, ADMIN, expires_at=world.clock.moment + timedelta(hours=1)
    )
    headers = {"Authorization": f"Bearer {issued.text}"}
    assert world.client.get("/api/v1/me", headers=headers).status_code == 200

    world.clock.advance(hours=2)

    answer = world.client.get("/api/v1/me", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "not a valid token"


def test_a_live_token_whose_role_was_revoked_is_refused_by_the_table(world: World) -> None:
    world.ntd.app.revoke_role(AUDITOR, Grant(role=Role.AUDITOR), "left the team", ADMIN)

    answer = world.client.get("/api/v1/audit", headers=world.auth(AUDITOR))

    assert answer.status_code == 403


# -- sessions --------------------------------------------------------------------------------


def test_the_session_cookie_is_httponly_lax_signed_and_holds_no_secret(world: World) -> None:
    answer = log_in(world)

    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{auth.SESSION_COOKIE}=")
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert any(f.startswith("max-age=") for f in flags)
    token_id, secret = parse(world.tokens[str(BRAND_USER)])
    value = world.client.cookies[auth.SESSION_COOKIE]
    assert secret not in cookie and value.startswith(token_id.hex + ".")
    assert world.client.get("/_t/me").json() == {"me": "notifier_user:bob"}


def test_a_page_without_a_session_redirects_to_login_with_next(world: World) -> None:
    answer = world.client.get("/_t/me?x=1", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/_t/me%3Fx%3D1"


def test_a_form_posted_after_the_session_ended_logs_in_back_to_the_page_it_came_from(
    world: World,
) -> None:
    """`next` is the page that held the form, never the POST's own path (a GET there is 405);
    a referrer on another site is not followed."""
    client = world.client
    came_from = {"referer": "http://testserver/cases/abc?tab=forms"}
    answer = client.post("/_t/me", headers=came_from, follow_redirects=False)
    elsewhere = client.post(
        "/_t/me", headers={"referer": "https://evil.example/x"}, follow_redirects=False
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/cases/abc%3Ftab%3Dforms"
    assert elsewhere.headers["location"] == "/login?next=/"


def test_a_tampered_session_cookie_is_no_session(world: World) -> None:
    log_in(world)
    value = world.client.cookies[auth.SESSION_COOKIE]
    body, _, mac = value.rpartition(".")
    ident, until, opened = body.split(".")
    world.client.cookies.set(auth.SESSION_COOKIE, f"{ident}.{int(until) + 10**6}.{opened}.{mac}")

    assert world.client.get("/_t/me", follow_redirects=False).status_code == 303


def test_revoking_the_token_ends_its_session(world: World) -> None:
    log_in(world)
    assert world.client.get("/_t/me").status_code == 200

    token_id = parse(world.tokens[str(BRAND_USER)])[0]
    world.ntd.app.revoke_token(token_id, "left the company", ADMIN)

    answer = world.client.get("/_t/me", follow_redirects=False)
    assert answer.status_code == 303
    assert auth.SESSION_COOKIE in answer.headers.get("set-cookie", "")  # the cookie is dropped


def test_a_session_ends_after_its_hours(world: World) -> None:
    log_in(world)

    world.clock.advance(hours=9)

    assert world.client.get("/_t/me", follow_redirects=False).status_code == 303


def test_logging_out_drops_the_cookie(world: World) -> None:
    log_in(world)

    world.client.post("/_t/logout")

    assert world.client.get("/_t/me", follow_redirects=False).status_code == 303


def test_failed_logins_are_limited_per_client(world: World) -> None:
    for _ in range(3):
        assert world.client.post("/_t/login", data={"token": "ntd_bad"}).status_code == 401

    limited = world.client.post("/_t/login", data={"token": world.tokens[str(BRAND_USER)]})

    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0


def test_a_login_resets_the_count_of_failures(world: World) -> None:
    for _ in range(2):
        world.client.post("/_t/login", data={"token": "ntd_bad"})
    log_in(world)

    for _ in range(2):
        assert world.client.post("/_t/login", data={"token": "ntd_bad"}).status_code == 401


# -- CSRF ------------------------------------------------------------------------------------


def test_a_form_with_this_visitor_s_csrf_value_passes(world: World) -> None:
    value = world.client.get("/_t/csrf").json()["csrf"]
    assert auth.ANON_COOKIE in world.client.cookies

    assert world.client.post("/_t/form", data={"csrf": value}).status_code == 200


def test_a_form_without_or_with_another_csrf_value_is_403(world: World) -> None:
    world.client.get("/_t/csrf")

    missing = world.client.post("/_t/form", data={})
    forged = world.client.post("/_t/form", data={"csrf": "x" * 43})

    assert missing.status_code == forged.status_code == 403
    assert "did not come from this site" in forged.json()["detail"]


def test_the_csrf_value_is_bound_to_the_session(world: World) -> None:
    before = world.client.get("/_t/csrf").json()["csrf"]
    log_in(world)

    after = world.client.get("/_t/csrf").json()["csrf"]

    assert after != before
    assert world.client.post("/_t/form", data={"csrf": before}).status_code == 403
    assert world.client.post("/_t/form", data={"csrf": after}).status_code == 200


def test_next_after_login_stays_on_this_site() -> None:
    assert auth.safe_next("/brand?x=1") == "/brand?x=1"
    for outside in ("https://evil.example/", "//evil.example", "/\\evil", "", None):
        assert auth.safe_next(outside) == "/"


# -- the signing key -------------------------------------------------------------------------


def test_the_key_file_is_0600_and_shared_by_every_worker(world: World, tmp_path: Path) -> None:
    log_in(world)
    here = portal_of(world)
    key_file = here.settings.data_dir / auth.KEY_FILE

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = create_app(here.settings, clock=world.clock)
    with TestClient(other) as second:
        second.cookies.update(world.client.cookies)
        second_portal = other.state.portal
        assert auth.session_key(second_portal) == auth.session_key(here)


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    from ntd.config import ConfigError
    from ntd.web.runtime import Portal

    data = tmp_path / "d"
    data.mkdir()
    (data / auth.KEY_FILE).write_text("k" * 64)
    os.chmod(data / auth.KEY_FILE, 0o644)
    here = Portal(Settings(data_dir=data, read_dsn=f"sqlite:///{data}/read.db"))

    with pytest.raises(ConfigError, match="chmod 600"):
        auth.session_key(here)


def portal_of(world: World) -> auth.Portal:
    return world.web.state.portal  # type: ignore[no-any-return]


# -- no secret in logs -----------------------------------------------------------------------


def test_no_token_secret_reaches_the_log(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from ntd import reads

    out = io.StringIO()
    configure("json", "debug", stream=out)
    try:
        log_in(world)
        world.client.get("/api/v1/me", headers=world.auth(AGENT))
        world.client.post("/_t/login", data={"token": world.tokens[str(AGENT)] + "x"})

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(reads, "queue_lines", broken)
        client = TestClient(world.web, raise_server_exceptions=False)
        assert client.get("/api/v1/queue", headers=world.auth(AGENT)).status_code == 500
    finally:
        configure("json", "info")

    text = out.getvalue()
    assert "request failed" in text  # the 500 was logged, with its traceback
    for token in world.tokens.values():
        assert parse(token)[1] not in text


def test_portal_helper_is_the_app_s_portal(world: World) -> None:
    seen: list[object] = []

    @world.web.get("/_t/portal")
    def _p(request: Request) -> dict[str, bool]:
        seen.append(portal(request))
        return {"ok": True}

    world.client.get("/_t/portal")
    assert seen == [world.web.state.portal]
