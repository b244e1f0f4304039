"""What a hostile client sends the portal and the API: every answer is a clear 4xx, never a
500, and nothing changes. Each case here once was a 500 (or worse: a decision unchecked)."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from domain.case import State
from tests.unit.domain_fixtures import AGENT, BRAND_USER
from tests.unit.test_web_api import World, decide, make_world
from tests.unit.test_web_pages import FACTS, csrf_of, log_in

pytestmark = pytest.mark.sqlite


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "header", ["²".encode("latin-1"), b"\xb9", b"99999999999999999999999", b"0", b"-1", b"3.0"]
)
def test_an_if_match_that_is_not_a_version_is_422_and_decides_nothing(
    world: World, header: bytes
) -> None:
    case_id = world.file()

    answer = decide(world, case_id, **{"If-Match": header})  # type: ignore[arg-type]

    assert answer.status_code == 422, answer.text
    assert world.version(case_id) == 1


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor([1.0, 12345, 1]),  # a case id that is not text
        _cursor([1.0, "4f1c2d3e-0000-4000-8000-000000000000", 10**30]),  # no store counts so far
        _cursor([1.0, "4f1c2d3e-0000-4000-8000-000000000000", -5.5]),
        _cursor(["x", "4f1c2d3e-0000-4000-8000-000000000000", 1]),
        _cursor({"a": 1}),
        base64.urlsafe_b64encode(b'[1e400, "4f1c2d3e-0000-4000-8000-000000000000", 1]').decode(),
        base64.urlsafe_b64encode(b"[" * 5_000).decode(),  # deep enough to overflow a parser
        "A" * 10_000,
    ],
)
def test_a_tampered_cursor_is_422(world: World, cursor: str) -> None:
    answer = world.client.get("/api/v1/cases", params={"cursor": cursor}, headers=world.auth(AGENT))

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "cursor"


def test_a_time_without_an_offset_is_utc_as_in_the_cli(world: World) -> None:
    case_id = world.file()
    filed_at = world.clock.moment

    answer = world.client.get(
        f"/api/v1/cases/{case_id}",
        params={"as_of": filed_at.replace(tzinfo=None).isoformat()},
        headers=world.auth(AGENT),
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "filed"


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_a_dashboard_at_the_ends_of_the_calendar_is_422(world: World, at: str) -> None:
    answer = world.client.get(
        f"/api/v1/notifiers/{world.brand_a[0]}/dashboard",
        params={"at": at},
        headers=world.auth(BRAND_USER),
    )

    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize(
    "query", ["to=9999-12-31", "from=0001-01-01", "to=0001-01-01", "from=1900-01-01&to=2026-01-01"]
)
def test_a_dashboard_page_over_any_range_answers(world: World, query: str) -> None:
    world.file()
    log_in(world, BRAND_USER)

    page = world.client.get(f"/brand/{world.brand_a[0]}?{query}")

    assert page.status_code in (200, 422), page.text
    assert "Dashboard" in page.text


@pytest.mark.parametrize("version", ["99999999999999999999", "²", "0"])
def test_a_case_page_at_a_version_that_is_not_one_is_422(world: World, version: str) -> None:
    case_id = world.file()
    log_in(world, AGENT)

    page = world.client.get(f"/cases/{case_id}", params={"version": version})

    assert page.status_code == 422, page.text


@pytest.mark.parametrize("version", ["²", "", "99999999999999999999"])
def test_a_decision_form_with_a_tampered_version_decides_nothing(
    world: World, version: str
) -> None:
    case_id = world.file()
    log_in(world, AGENT)
    page = world.client.get(f"/cases/{case_id}")

    answer = world.client.post(
        f"/cases/{case_id}/take-down",
        data={"csrf": csrf_of(page), "version": version, "facts": FACTS},
    )

    assert answer.status_code == 412, answer.text  # stale, as a form from another version
    assert world.ntd.app.case(case_id, AGENT).state is State.FILED


def test_a_dashboard_range_over_five_years_is_refused_naming_from(world: World) -> None:
    log_in(world, BRAND_USER)

    page = world.client.get(f"/brand/{world.brand_a[0]}?from=2001-01-01&to=2026-01-01")

    assert page.status_code == 422
    assert "a range spans at most 1830 days" in page.text


def test_a_session_cookie_copied_before_logout_opens_nothing_after(world: World) -> None:
    log_in(world, AGENT)
    copied = world.client.cookies.get("ntd_session")
    page = world.client.get("/queue")
    assert page.status_code == 200

    out = world.client.post("/logout", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert out.status_code == 303
    world.client.cookies.set("ntd_session", copied or "")
    again = world.client.get("/queue", follow_redirects=False)

    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


def test_a_flash_message_set_by_someone_else_is_not_shown(world: World) -> None:
    log_in(world, AGENT)
    world.client.cookies.set("ntd_flash", "Your%20token%20expired%3A%20paste%20it%20at%20evil")

    page = world.client.get("/queue")

    assert page.status_code == 200
    assert "evil" not in page.text


def test_the_portal_s_own_flash_message_is_shown_once(world: World) -> None:
    log_in(world, AGENT)
    page = world.client.get("/queue")

    out = world.client.post("/logout", data={"csrf": csrf_of(page)})  # on to the login page
    later = world.client.get("/login")

    assert "You are logged out." in out.text
    assert "You are logged out." not in later.text


@pytest.mark.parametrize("path", ["", "/conversation"])
def test_a_version_the_case_never_reached_changes_nothing_not_even_what_was_read(
    world: World, path: str
) -> None:
    case_id = world.file()
    world.client.post(
        f"/api/v1/cases/{case_id}/messages",
        json={"text": "Two more test buys from this seller."},
        headers=world.auth(BRAND_USER),
    )
    read_db = world.ntd.settings.read_dsn.removeprefix("sqlite:///")

    def reads() -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(read_db)) as db:
            tables = db.execute("SELECT name FROM sqlite_master WHERE name = 'message_reads'")
            if not tables.fetchall():
                return []
            return sorted(db.execute("SELECT * FROM message_reads").fetchall())

    before = reads()
    answer = world.client.get(
        f"/api/v1/cases/{case_id}{path}",
        params={"min_version": 2_000_000_000},
        headers=world.auth(AGENT),
    )

    assert answer.status_code == 404, answer.text
    assert reads() == before


def test_a_body_that_is_not_json_ntd_reads_is_a_documented_400(world: World) -> None:
    case_id = world.file()
    deep = '{"reason": ' + "[" * 100_000 + "]" * 100_000 + "}"

    answer = world.client.post(
        f"/api/v1/cases/{case_id}/withdraw",
        content=deep,
        headers=world.auth(BRAND_USER) | {"Content-Type": "application/json"},
    )
    documented = world.client.get("/openapi.json").json()["paths"]
    withdraw = documented["/api/v1/cases/{case_id}/withdraw"]["post"]["responses"]

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "400" in withdraw
