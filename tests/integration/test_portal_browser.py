"""The portal in a real browser (Debian's Chromium, headless, driven by Playwright): a brand
files a notice through the form (a field error first), finds the case in its list and on its
dashboard's chart, answers an identification request; an agent takes the case down from the
queue; the seller counter-notices. Once over the embedded default, once over PostgreSQL +
Kafka with the relay and the consumers as their own processes (the lists and the dashboard
show the case once those carried it). Screenshots of every step are kept under
NTD_TEST_ARTIFACTS (default tests/artifacts/)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    Response,
    expect,
    sync_playwright,
)

from ntd.config import Settings
from tests.integration.portal import (
    EVIDENCE_SHA,
    MARKETPLACE,
    REPO,
    SELLER_REF,
    Served,
    World,
    make_world,
    on_kafka,
    serve,
    wait_for,
)

ARTIFACTS = Path(os.environ.get("NTD_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SHOWN_WITHIN = 60.0
"""Seconds a page may take to show what the relay and the consumers carry (PostgreSQL+Kafka)."""
LISTING = "B0912-7731"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = os.environ.get("NTD_CHROMIUM") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        message = f"no Chromium at {path}: scripts/chromium ensure installs Debian's"
        if os.environ.get("NTD_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(params=["embedded", "postgres_kafka"])
def portal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Served, World]]:
    logs = tmp_path / "logs"
    if request.param == "embedded":  # the default: SQLite stores in the data dir, log feed
        settings = Settings.from_env({"NTD_DATA_DIR": str(tmp_path / "data")})
        world = make_world(settings)
        with serve(settings, logs) as served:
            yield served, world
    else:
        settings = request.getfixturevalue("kafka_settings")
        world = make_world(settings)
        with on_kafka(settings, logs, workers=2) as served:
            yield served, world


class Person:
    """One user's browser session, with what the pages did wrong along the way: scripts or
    styles the CSP refused, page errors, and any request that left the portal (a CDN)."""

    def __init__(self, browser: Browser, served: Served, token: str, who: str, shots: Path):
        self.context = browser.new_context(base_url=served.url)
        self.page = self.context.new_page()
        self.token, self.who, self.shots, self.origin = token, who, shots, served.url
        self.problems: list[str] = []
        self.page.on("dialog", lambda dialog: dialog.accept())  # data-confirm: "Take down?"
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("request", self._request)
        self.page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        # A page answered 4xx logs "Failed to load resource": _response judges those.
        if message.type == "error" and "Failed to load resource" in message.text:
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response: Response) -> None:
        """A page may answer 4xx on purpose (a form with errors); what it loads may not."""
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} for {response.url}")

    def _request(self, request: Request) -> None:
        if not request.url.startswith(self.origin) and not request.url.startswith("data:"):
            self.problems.append(f"request outside the portal: {request.url}")

    def log_in(self) -> None:
        shown = self.page.goto("/login")
        assert shown is not None and shown.status == 200, shown and shown.text()
        self.page.fill("#f-token", self.token)
        self.submit(self.page.locator("form[action='/login']"), expect_status=303)
        assert "/login" not in self.page.url, self.page.url

    def submit(self, form: Locator, expect_status: int) -> None:
        """Press the form's submit button; the POST must answer `expect_status`."""
        with self.page.expect_response(lambda r: r.request.method == "POST") as posted:
            form.locator("button[type=submit]").click()
        self.page.wait_for_load_state()
        status = posted.value.status
        assert status == expect_status, f"{posted.value.url}: {status}\n{self.main_text()}"

    def main_text(self) -> str:
        return self.page.locator("main").inner_text()

    def shot(self, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}-{self.who}.png"), full_page=True)

    def until(self, path: str, shown: Callable[[Page], bool], what: str) -> None:
        """Open `path`, reloading until `shown` holds (what the read models carry arrives
        later on Kafka)."""

        def look() -> bool:
            self.page.goto(path)
            return shown(self.page)

        wait_for(look, f"{what} on {path} ({self.who})", SHOWN_WITHIN, pause=0.25)

    def open_case(self, path: str, row_text: str) -> None:
        """From a list at `path`, the case page of the row naming `row_text`."""
        row = self.page.locator("tr", has_text=row_text)
        self.until(path, lambda _: row.count() == 1, f"the row of {row_text}")
        row.locator("a[href^='/cases/']").first.click()
        self.page.wait_for_load_state()
        assert re.search(r"/cases/[0-9a-f-]{36}", self.page.url), self.page.url

    def act(self, slug: str) -> Locator:
        """Open the case page's form of one action."""
        action = self.page.locator(f"#act-{slug}")
        action.locator("summary").click()
        return action.locator("form")

    def flash(self) -> str:
        return self.page.locator(".flash").inner_text()

    def close(self) -> None:
        self.context.close()


def row_of(page: Page, text: str) -> str:
    """The text of the table row naming `text` ('' while there is none)."""
    row = page.locator("tr", has_text=text)
    return row.inner_text() if row.count() == 1 else ""


def figure(page: Page, name: str) -> str:
    """A figure of the dashboard by its label ('' where the page shows none)."""
    shown = page.locator("dl.figures div", has=page.locator(f"dt:text-is('{name}')"))
    return shown.locator("dd").inner_text() if shown.count() == 1 else ""


def test_a_brand_an_agent_and_a_seller_each_do_their_part_in_the_browser(
    browser: Browser, portal: tuple[Served, World], request: pytest.FixtureRequest
) -> None:
    served, world = portal
    shots = ARTIFACTS / request.node.name.replace("[", "-").rstrip("]")
    listing = f"{MARKETPLACE}/{LISTING}"
    people: list[Person] = []

    def person(role: str) -> Person:
        made = Person(browser, served, world.tokens[role], role, shots)
        people.append(made)
        made.log_in()
        return made

    try:
        # The brand files a notice: first with a bad contact email, shown by that field.
        brand = person("brand")
        assert brand.page.url.endswith(f"/brand/{world.notifier_id}"), brand.page.url
        brand.page.goto(f"/brand/{world.notifier_id}/notice")
        form = brand.page.locator("form[action$='/notice']")
        brand.page.select_option("#f-right_id", str(world.right_id))
        brand.page.fill(
            "#f-listings",
            f"{MARKETPLACE},{LISTING},https://{MARKETPLACE}.example/item/{LISTING},{SELLER_REF}",
        )
        brand.page.select_option("#f-reason_code", "counterfeit")
        explanation = "The test buy shows counterfeit stitching and a fake hologram."
        brand.page.fill("#f-explanation", explanation)
        brand.page.fill("#f-evidence", f"test_buy:order 88121:{EVIDENCE_SHA}")
        brand.page.fill("#f-contact_name", "Aurelia Legal")
        brand.page.fill("#f-contact_email", "legal-at-aurelia")
        brand.page.fill("#f-signature", "/s/ Jeanne Moreau")
        form.locator("input[name=good_faith_statement]").check()
        form.locator("input[name=accuracy_statement]").check()
        brand.submit(form, expect_status=422)
        brand.shot("01-notice-field-error")
        error = brand.page.locator("#contact_email-error")
        expect(error).to_be_visible()
        assert error.inner_text().strip(), "the field's error says nothing"
        field = brand.page.locator(".field.invalid", has=brand.page.locator("#f-contact_email"))
        expect(field).to_contain_text(error.inner_text().strip())
        assert brand.page.locator(".field.invalid").count() == 1, brand.main_text()
        assert brand.page.input_value("#f-explanation") == explanation  # what was typed stays
        assert brand.page.input_value("#f-contact_email") == "legal-at-aurelia"

        brand.page.fill("#f-contact_email", "legal@aurelia.example")
        form.locator("input[name=good_faith_statement]").check()
        form.locator("input[name=accuracy_statement]").check()
        brand.submit(form, expect_status=303)
        assert brand.page.url.endswith(f"/brand/{world.notifier_id}/cases"), brand.page.url
        assert "accepted" in brand.flash(), brand.main_text()

        # The case in its list and on its dashboard (after the relay and consumers, on Kafka).
        brand.open_case(f"/brand/{world.notifier_id}/cases", listing)
        case_path = brand.page.url.removeprefix(served.url)
        brand.page.goto(f"/brand/{world.notifier_id}/cases")
        brand.shot("02-case-list")
        brand.until(
            f"/brand/{world.notifier_id}",
            lambda page: figure(page, "Cases") == "1",
            "the case among the dashboard's figures",
        )
        charts = brand.page.locator("figure.chart-figure svg")
        assert charts.count() >= 1, brand.main_text()
        expect(charts.first).to_be_visible()
        filings = brand.page.locator("figure.chart-figure", has_text="Filings per day")
        assert filings.locator("svg rect.chart-bar").count() >= 1, filings.inner_html()
        brand.shot("03-dashboard")

        # An agent asks whether the goods are genuine; the brand answers from its dashboard.
        agent = person("agent")
        agent.open_case("/queue", listing)
        agent.shot("04-queue-case")
        asked = agent.act("request-identification")
        asked.locator("textarea[name=question]").fill("Are the goods on these photos genuine?")
        agent.submit(asked, expect_status=303)
        assert "done" in agent.flash(), agent.main_text()

        brand.open_case(f"/brand/{world.notifier_id}", listing)  # "needs your action"
        answer = brand.act("identify")
        answer.locator("select[name=verdict]").select_option("counterfeit")
        answer.locator("textarea[name=basis]").fill("The hologram and stitching are not ours.")
        brand.shot("05-identification-answer")
        brand.submit(answer, expect_status=303)
        assert "done" in brand.flash(), brand.main_text()
        assert brand.page.url.endswith(case_path)

        # The agent takes the case down from the queue.
        agent.until(
            "/queue",
            lambda page: "counterfeit" in row_of(page, listing),
            "the brand's answer in the queue",
        )
        agent.open_case("/queue", listing)
        down = agent.act("take-down")
        down.locator("textarea[name=facts]").fill(
            "The brand identified the goods as counterfeit; the test buy confirms it."
        )
        agent.submit(down, expect_status=303)
        assert "taken down" in agent.flash(), agent.main_text()
        agent.shot("06-taken-down")

        # The seller finds the takedown among its cases and counter-notices.
        seller = person("seller")
        assert seller.page.url.endswith("/seller"), seller.page.url
        seller.until(
            "/seller",
            lambda page: "taken down" in row_of(page, listing),
            "the takedown among the seller's cases",
        )
        seller.shot("07-seller-cases")
        seller.open_case("/seller", listing)
        appeal = seller.act("counter-notice")
        appeal.locator("textarea[name=statement]").fill(
            "These are genuine goods bought from the brand's own distributor; invoice attached."
        )
        appeal.locator("input[name=consent]").check()
        seller.submit(appeal, expect_status=303)
        assert "counter noticed" in seller.flash(), seller.main_text()
        seller.shot("08-counter-notice")
        assert seller.page.locator("#act-counter-notice").count() == 0  # once only

        # What the browser did is what the service holds.
        case_id = case_path.rsplit("/", 1)[1]
        with served.client(world.tokens["auditor"]) as auditor:
            case = auditor.get(f"/api/v1/cases/{case_id}").json()
        assert case["state"] == "counter_noticed", case
        kinds = [e["event_type"] for e in case["timeline"]]
        assert kinds == [
            "filed",
            "identification_requested",
            "identification_answered",
            "taken_down",
            "seller_notified",
            "counter_noticed",
        ], kinds
        for who in people:
            assert who.problems == [], (who.who, who.problems)
    finally:
        for who in people:
            who.close()


def test_the_interactive_api_reference_runs_under_the_portal_s_csp(
    browser: Browser, tmp_path: Path
) -> None:
    """/docs is Swagger UI served by ntd itself (no CDN) and started by a script file: it lists
    the API's operations with no CSP violation, page error or request leaving the portal, and
    a request with a bearer token from the page (as "Try it out" sends) reaches the API."""
    settings = Settings.from_env({"NTD_DATA_DIR": str(tmp_path / "data")})
    world = make_world(settings)
    with serve(settings, tmp_path / "logs") as served:
        person = Person(browser, served, world.tokens["agent"], "agent", tmp_path / "shots")
        try:
            page = person.page
            page.goto("/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=20_000)
            paths = set(page.locator(".opblock-summary-path").all_inner_texts())
            assert {"/api/v1/notices", "/api/v1/cases/{case_id}/take-down"} <= {
                p.replace("\u200b", "") for p in paths
            }
            with page.expect_response(lambda r: r.url.endswith("/api/v1/me")) as answered:
                page.evaluate(
                    "token => fetch('/api/v1/me', {headers: {Authorization: 'Bearer ' + token}})",
                    world.tokens["agent"],
                )
            assert answered.value.status == 200
            assert person.problems == []
        finally:
            person.close()
