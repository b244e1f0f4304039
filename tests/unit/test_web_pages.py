"""The portal's pages through FastAPI's TestClient on an embedded SQLite store: logging in and
out, each role's pages, the notice form and its CSV upload, decisions and the other case forms,
CSRF, escaping, the Content-Security-Policy and no inline script or style anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from domain.access import Grant
from domain.case import State
from domain.notifier import NotifierKind
from domain.values import Actor, ActorKind, RightType, Role
from tests.unit.domain_fixtures import (
    ADMIN,
    AGENT,
    AUDITOR,
    BRAND_USER,
    CERTIFICATE,
    EVIDENCE_HASH,
    SELLER,
)
from tests.unit.test_web_api import World, make_world

pytestmark = pytest.mark.sqlite

FACTS = "Test buy 88121: counterfeit hardware, no serial tag"
HOSTILE = '<script>alert("x")</script>'
LAW_FIRM = Actor(kind=ActorKind.NOTIFIER_USER, id="k.law")
"""A registered agent acting for two brands."""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


# -- a browser without JavaScript --------------------------------------------------------------


CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, "the page has no form with a CSRF field"
    return found.group(1)


def log_in(world: World, who: Actor) -> None:
    """Log in through the form, as a browser does: the login page, then its form."""
    world.client.cookies.clear()
    page = world.client.get("/login")
    answer = world.client.post(
        "/login",
        data={"token": world.tokens[str(who)], "csrf": csrf_of(page), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def submit(
    world: World, page_url: str, action: str, data: dict[str, Any], files: Any = None
) -> httpx.Response:
    """Post a form of the page at `page_url` with that page's CSRF value (and case version)."""
    page = world.client.get(page_url)
    assert page.status_code == 200, page.text
    fields = {"csrf": csrf_of(page), **data}
    version = re.search(r'name="version" value="(\d+)"', page.text)
    if version and "version" not in data:
        fields["version"] = version.group(1)
    return world.client.post(action, data=fields, files=files, follow_redirects=False)


def state_of(world: World, case_id: UUID) -> State:
    return world.ntd.app.case(case_id, AGENT).state


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def assert_clean(page: httpx.Response) -> None:
    """A page the Content-Security-Policy lets run as it is: no inline script, style or event
    handler, the policy itself on the response."""
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert not INLINE_SCRIPT.search(page.text), INLINE_SCRIPT.search(page.text)
    assert not INLINE_STYLE.search(page.text), INLINE_STYLE.search(page.text)
    assert not HANDLER.search(page.text), HANDLER.search(page.text)


def notice_fields(world: World, **changes: str) -> dict[str, str]:
    data = {
        "right_id": str(world.brand_a[1]),
        "listings": "shop.example,L-form-1,https://shop.example/item/L-form-1,seller-1",
        "reason_code": "counterfeit",
        "explanation": "The listing sells counterfeit goods bearing our registered mark.",
        "evidence": f"test_buy:order 4711:{EVIDENCE_HASH}",
        "contact_name": "Acme Legal",
        "contact_email": "legal@acme.example",
        "signature": "/Bob Example/",
        "good_faith_statement": "1",
        "accuracy_statement": "1",
    }
    return {**data, **changes}


# -- logging in and out ------------------------------------------------------------------------


def test_a_page_without_a_session_sends_the_browser_to_the_login_page(world: World) -> None:
    answer = world.client.get("/queue", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/queue"


def test_a_wrong_token_is_refused_on_the_login_page_and_a_right_one_opens_the_queue(
    world: World,
) -> None:
    page = world.client.get("/login")
    wrong = world.client.post(
        "/login", data={"token": "ntd_" + "0" * 32 + "_nope", "csrf": csrf_of(page)}
    )
    assert wrong.status_code == 401
    assert "not a valid token" in wrong.text

    log_in(world, AGENT)
    queue = world.client.get("/")

    assert queue.status_code == 200
    assert str(queue.url).endswith("/queue")
    assert "agent:alice" in queue.text


def test_logging_out_ends_the_session(world: World) -> None:
    log_in(world, AGENT)
    page = world.client.get("/queue")

    out = world.client.post("/logout", data={"csrf": csrf_of(page)}, follow_redirects=False)

    assert out.status_code == 303
    assert world.client.get("/queue", follow_redirects=False).status_code == 303


def test_a_login_form_without_its_csrf_value_is_refused(world: World) -> None:
    world.client.get("/login")
    answer = world.client.post("/login", data={"token": world.tokens[str(AGENT)]})

    assert answer.status_code == 403
    assert "ntd_session" not in answer.headers.get("set-cookie", "")


# -- each role's pages -------------------------------------------------------------------------


def test_each_roles_start_page_renders_clean_html(world: World) -> None:
    case_id = world.file()
    starts = {
        BRAND_USER: f"/brand/{world.brand_a[0]}",
        AGENT: "/queue",
        SELLER: "/seller",
        AUDITOR: "/audit",
    }
    for who, where in starts.items():
        log_in(world, who)
        page = world.client.get("/")
        assert page.status_code == 200, (who, page.text)
        assert str(page.url).endswith(where), who
        assert_clean(page)
        case_page = world.client.get(f"/cases/{case_id}")
        assert case_page.status_code == 200, (who, case_page.text)
        assert_clean(case_page)


def test_a_brand_sees_its_dashboard_with_four_charts_and_its_needs_action(world: World) -> None:
    case_id = world.file()
    world.ntd.app.request_clarification(case_id, "Which registration covers bags?", AGENT)
    log_in(world, BRAND_USER)

    page = world.client.get(f"/brand/{world.brand_a[0]}?from=2031-02-01&to=2031-03-03")

    assert page.status_code == 200, page.text
    assert page.text.count("<svg") == 4
    for title in ("Filings per day", "Takedown rate", "Time to takedown", "Top sellers"):
        assert title in page.text
    assert "Answer the clarification request" in page.text
    assert f"/cases/{case_id}" in page.text
    assert "Trusted-lane standing" in page.text
    assert_clean(page)


def test_a_wrong_date_range_is_named_by_its_field(world: World) -> None:
    log_in(world, BRAND_USER)

    page = world.client.get(f"/brand/{world.brand_a[0]}?from=yesterday")

    assert page.status_code == 422
    assert "&#39;yesterday&#39; is not an ISO date" in page.text


def test_another_brands_dashboard_and_case_are_not_found(world: World) -> None:
    theirs = world.file(brand="b", who=Actor(kind=ActorKind.NOTIFIER_USER, id="carol"))
    log_in(world, BRAND_USER)

    assert world.client.get(f"/brand/{world.brand_b[0]}").status_code == 404
    assert world.client.get(f"/cases/{theirs}").status_code == 404


def test_the_case_list_filters_by_state_and_pages_on(world: World) -> None:
    first = world.file()
    world.file()
    world.ntd.app.request_clarification(first, "Which registration?", AGENT)
    log_in(world, BRAND_USER)
    where = f"/brand/{world.brand_a[0]}/cases"

    waiting = world.client.get(f"{where}?state=awaiting_clarification")
    everything = world.client.get(where)

    assert waiting.text.count("/cases/") == 1
    assert str(first) in waiting.text
    assert everything.text.count('href="/cases/') == 2
    assert_clean(waiting)


def test_a_registered_agent_acting_for_two_brands_picks_one(world: World) -> None:
    app = world.ntd.app
    for notifier_id in (world.brand_a[0], world.brand_b[0]):
        app.grant_role(LAW_FIRM, Grant(role=Role.REGISTERED_AGENT, notifier_id=notifier_id), ADMIN)
    world.tokens[str(LAW_FIRM)] = app.issue_token(LAW_FIRM, ADMIN).text
    log_in(world, LAW_FIRM)

    page = world.client.get("/")

    assert "Choose a notifier" in page.text
    assert f"/brand/{world.brand_a[0]}" in page.text
    assert f"/brand/{world.brand_b[0]}" in page.text


# -- the notice form ---------------------------------------------------------------------------


def test_a_notice_filed_through_the_form_opens_a_case_and_says_so(world: World) -> None:
    log_in(world, BRAND_USER)
    where = f"/brand/{world.brand_a[0]}/notice"

    answer = submit(world, where, where, notice_fields(world))

    assert answer.status_code == 303, answer.text
    cases = world.client.get(answer.headers["location"])
    assert "accepted (normal lane): 1 listing, 1 new case" in cases.text
    assert "L-form-1" in cases.text


def test_a_bad_notice_comes_back_with_each_problem_next_to_its_field(world: World) -> None:
    log_in(world, BRAND_USER)
    where = f"/brand/{world.brand_a[0]}/notice"

    answer = submit(
        world, where, where, notice_fields(world, explanation="too short", signature="")
    )

    assert answer.status_code == 422
    explanation = re.search(r'id="explanation-error">(.*?)</ul>', answer.text, re.S)
    signature = re.search(r'id="signature-error">(.*?)</ul>', answer.text, re.S)
    assert explanation and "at least 20 characters" in explanation.group(1)
    assert signature and "at least 2 characters" in signature.group(1)
    assert 'value="too short"' not in answer.text  # a textarea keeps it as its content
    assert ">too short</textarea>" in answer.text
    assert_clean(answer)


def test_a_csv_of_listings_with_a_bad_row_names_the_row(world: World) -> None:
    log_in(world, BRAND_USER)
    where = f"/brand/{world.brand_a[0]}/notice"
    upload = (
        "marketplace,listing_id,url,seller_id\n"
        "shop.example,L-1,https://shop.example/item/L-1,seller-1\n"
        "shop.example,L-2,not-a-url,seller-1\n"
        "shop.example,L-3\n"
    )
    files = {"listings_csv": ("listings.csv", upload.encode(), "text/csv")}

    answer = submit(world, where, where, notice_fields(world, listings=""), files=files)

    assert answer.status_code == 422
    problems = re.search(r'id="listings_csv-error">(.*?)</ul>', answer.text, re.S)
    assert problems
    assert "row 4: expected 4 cells" in problems.group(1)
    assert "row 3 url:" in problems.group(1)
    assert "L-1" not in world.client.get(f"/brand/{world.brand_a[0]}/cases").text


def test_a_csv_of_many_listings_files_one_case_each(world: World) -> None:
    log_in(world, BRAND_USER)
    where = f"/brand/{world.brand_a[0]}/notice"
    rows = [f"shop.example,C-{n},https://shop.example/item/C-{n},seller-1" for n in range(40)]
    files = {"listings_csv": ("listings.csv", "\n".join(rows).encode(), "text/csv")}

    answer = submit(world, where, where, notice_fields(world, listings=""), files=files)

    assert answer.status_code == 303, answer.text
    assert "40 listings, 40 new cases" in world.client.get(answer.headers["location"]).text


def test_a_csv_of_more_than_300_listings_is_refused_with_the_clis_words(world: World) -> None:
    log_in(world, BRAND_USER)
    where = f"/brand/{world.brand_a[0]}/notice"
    rows = [f"shop.example,C-{n},https://shop.example/item/C-{n},seller-1" for n in range(301)]
    files = {"listings_csv": ("listings.csv", "\n".join(rows).encode(), "text/csv")}

    answer = submit(world, where, where, notice_fields(world, listings=""), files=files)

    assert answer.status_code == 422
    assert "a notice names at most 300 listings, this one names 301" in answer.text


# -- decisions and the other case forms --------------------------------------------------------


def test_an_agent_takes_a_case_down_through_the_form(world: World) -> None:
    case_id = world.file()
    log_in(world, AGENT)
    where = f"/cases/{case_id}"

    answer = submit(world, where, f"{where}/take-down", {"facts": FACTS})

    assert answer.status_code == 303, answer.text
    assert state_of(world, case_id) is State.TAKEN_DOWN
    page = world.client.get(answer.headers["location"])
    assert "Take down: done. The case is taken down (version 3)" in page.text
    assert FACTS in page.text


def test_a_decision_without_facts_is_refused_next_to_the_field(world: World) -> None:
    case_id = world.file()
    log_in(world, AGENT)
    where = f"/cases/{case_id}"

    answer = submit(world, where, f"{where}/decline", {"facts": "  "})

    assert answer.status_code == 422
    problem = re.search(r'id="decline-facts-error">(.*?)</ul>', answer.text, re.S)
    assert problem and "missing (required)" in problem.group(1)
    assert state_of(world, case_id) is State.FILED


def test_a_decision_on_a_stale_version_changes_nothing_and_says_so(world: World) -> None:
    case_id = world.file()
    log_in(world, AGENT)
    where = f"/cases/{case_id}"
    page = world.client.get(where)
    world.ntd.app.request_clarification(case_id, "Which registration?", AGENT)  # meanwhile

    answer = world.client.post(
        f"{where}/take-down", data={"csrf": csrf_of(page), "version": "1", "facts": FACTS}
    )

    assert answer.status_code == 412
    assert "The case changed since you opened it" in answer.text
    assert state_of(world, case_id) is State.AWAITING_CLARIFICATION


def test_a_step_the_lifecycle_does_not_allow_is_explained_on_the_page(world: World) -> None:
    case_id = world.file()
    world.ntd.app.request_clarification(case_id, "Which registration?", AGENT)
    log_in(world, AGENT)
    where = f"/cases/{case_id}"
    page = world.client.get(where)
    assert 'action="' + where + '/take-down"' not in page.text  # not offered

    form = {"csrf": csrf_of(page), "facts": FACTS, "version": "2"}  # the case's, yet not offered
    answer = world.client.post(f"{where}/take-down", data=form)

    assert answer.status_code == 409
    assert "cannot take down" in answer.text


def test_a_form_without_the_csrf_value_is_refused_and_changes_nothing(world: World) -> None:
    case_id = world.file()
    log_in(world, AGENT)

    answer = world.client.post(f"/cases/{case_id}/take-down", data={"facts": FACTS})
    forged = world.client.post(
        f"/cases/{case_id}/take-down", data={"facts": FACTS, "csrf": "forged"}
    )

    assert answer.status_code == 403
    assert forged.status_code == 403
    assert state_of(world, case_id) is State.FILED


def test_a_seller_counter_notices_within_its_window(world: World) -> None:
    case_id = world.file()
    world.ntd.app.take_down(case_id, _reasons(), AGENT)
    log_in(world, SELLER)
    listed = world.client.get("/seller")
    assert "counter-notice" in listed.text
    where = f"/cases/{case_id}"
    assert "Deadline:" in world.client.get(where).text

    answer = submit(
        world,
        where,
        f"{where}/counter-notice",
        {"statement": "Genuine stock, invoice 2291", "consent": "1"},
    )

    assert answer.status_code == 303, answer.text
    assert state_of(world, case_id) is State.COUNTER_NOTICED
    assert "Conversation" not in world.client.get(where).text  # never a seller's


def test_a_brand_answers_an_identification_request_and_writes_to_its_manager(world: World) -> None:
    case_id = world.file()
    world.ntd.app.request_identification(case_id, "Are these genuine?", [], AGENT)
    log_in(world, BRAND_USER)
    where = f"/cases/{case_id}"

    answered = submit(
        world,
        where,
        f"{where}/identify",
        {"verdict": "counterfeit", "basis": "No hologram; wrong stitch count"},
    )
    posted = submit(world, where, f"{where}/message", {"text": f"Photos follow {HOSTILE}"})

    assert answered.status_code == 303, answered.text
    assert posted.status_code == 303, posted.text
    answer = world.ntd.app.case(case_id, AGENT).identification
    assert answer is not None and answer.verdict.value == "counterfeit"
    log_in(world, AGENT)
    page = world.client.get(where)
    assert "Photos follow &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert HOSTILE not in page.text
    assert_clean(page)


def test_a_case_as_it_stood_shows_no_forms(world: World) -> None:
    case_id = world.file()
    world.ntd.app.take_down(case_id, _reasons(), AGENT)
    log_in(world, AGENT)

    then = world.client.get(f"/cases/{case_id}?version=1")
    at = world.client.get(f"/cases/{case_id}?as_of=2031-03-03T10:30")

    assert then.status_code == 200
    assert "As it stood at version 1" in then.text
    assert "What you can do" not in then.text
    assert at.status_code == 200
    assert "As it stood at 2031-03-03 10:30 UTC" in at.text


# -- escaping ----------------------------------------------------------------------------------


def test_a_hostile_notifier_name_is_escaped_on_every_page(world: World) -> None:
    app = world.ntd.app
    evil = app.register_notifier(HOSTILE, NotifierKind.BRAND, "legal@evil.example", AGENT)
    right = app.register_right(evil, RightType.TRADEMARK, "TM-E", "eu", CERTIFICATE, AGENT)
    app.verify_right(evil, right, AGENT)
    mallory = Actor(kind=ActorKind.NOTIFIER_USER, id="mallory")
    app.grant_role(mallory, Grant(role=Role.NOTIFIER_ADMIN, notifier_id=evil), ADMIN)
    world.tokens[str(mallory)] = app.issue_token(mallory, ADMIN).text
    log_in(world, mallory)

    pages = [
        world.client.get(f"/brand/{evil}"),
        world.client.get(f"/brand/{evil}/cases"),
        world.client.get(f"/brand/{evil}/notice"),
    ]
    log_in(world, AGENT)
    pages.append(world.client.get("/queue"))

    for page in pages:
        assert page.status_code == 200, page.text
        assert HOSTILE not in page.text
        assert_clean(page)
    assert "&lt;script&gt;" in pages[0].text


# -- an auditor --------------------------------------------------------------------------------


def test_an_auditor_searches_exports_and_verifies_the_trail(world: World) -> None:
    case_id = world.file()
    log_in(world, AUDITOR)

    found = world.client.get(f"/audit?case={case_id}")
    export = world.client.get(f"/audit/export?case={case_id}&format=csv")
    lines = world.client.get(f"/audit/export?case={case_id}&format=jsonl")
    verified = world.client.get("/audit/verify")
    bad = world.client.get("/audit?case=nope&type=nothing")

    assert found.status_code == 200
    assert "filed" in found.text and str(case_id) in found.text
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    assert export.text.splitlines()[0].startswith("seq,event_id")
    assert len(lines.text.splitlines()) == 1
    assert "Audit trail intact" in verified.text
    assert bad.status_code == 422
    assert "is not an id" in bad.text and "no event is of type" in bad.text
    assert_clean(found)


def test_an_auditor_reads_cases_but_is_offered_no_decision_and_a_seller_no_audit(
    world: World,
) -> None:
    case_id = world.file()
    log_in(world, AUDITOR)
    page = world.client.get(f"/cases/{case_id}")
    refused = world.client.post(
        f"/cases/{case_id}/take-down", data={"csrf": csrf_of(page), "facts": FACTS}
    )

    assert page.status_code == 200
    assert "What you can do" not in page.text
    assert refused.status_code == 403
    assert state_of(world, case_id) is State.FILED
    log_in(world, SELLER)
    assert world.client.get("/audit").status_code == 403
    assert world.client.get("/queue").status_code == 403


def _reasons() -> Any:
    from tests.unit.domain_fixtures import reasons

    return reasons()
