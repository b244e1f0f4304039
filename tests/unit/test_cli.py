"""The `ntd` command line: a whole case lifecycle, every user mistake, who may do what, help
for every command."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import click
import pytest
from click.testing import CliRunner, Result

from domain.notice import parse_notice
from domain.seller import Seller
from ntd.cli import cli

NTD_SCRIPT = Path(sys.executable).parent / "ntd"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own embedded store and no stray NTD_* settings."""
    for name in list(os.environ):
        if name.startswith("NTD_"):
            monkeypatch.delenv(name)
    where = tmp_path / "ntd"
    monkeypatch.setenv("NTD_DATA_DIR", str(where))
    monkeypatch.setenv("NTD_LOG_FORMAT", "json")
    return where


def run(*args: str, input: str | None = None) -> Result:
    """Invoke the CLI in-process; a traceback is never an acceptable outcome."""
    result = CliRunner().invoke(cli, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def ok(*args: str, input: str | None = None) -> str:
    """Run a command that must succeed; its standard output."""
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("ntd: error:")]


def stored_events(data_dir: Path) -> int:
    """How many events the embedded event store holds."""
    with sqlite3.connect(data_dir / "events.db") as db:
        (count,) = db.execute("SELECT count(*) FROM stored_events").fetchone()
    db.close()
    return int(count)


# -- the cast --------------------------------------------------------------------------------

ROOT = "agent:root"  # the store's first admin
ONBOARDING = "agent:onboarding"  # an account manager: registers notifiers
ALICE = "agent:alice"  # an agent: decides cases
SOFIA = "agent:sofia"  # a supervisor: verifies rights, the notifiers' standing
AUDREY = "agent:audrey"  # an auditor
JEANNE = "notifier_user:j.moreau"  # Aurelia's notifier_admin
SELLER = "seller:luxe-ops"  # a user of the template listing's seller
LISTING_SELLER = "marketly/luxe-deals-88"


@pytest.fixture
def staff() -> None:
    """A store with its first admin, the platform's staff and the listing's seller's user."""
    ok("access", "init", ROOT)
    for who, role in (
        (ONBOARDING, "account_manager"),
        (ALICE, "agent"),
        (SOFIA, "supervisor"),
        (AUDREY, "auditor"),
    ):
        ok("access", "grant", who, role, "--as", ROOT)
    ok("access", "grant", SELLER, "seller_user", "--seller", LISTING_SELLER, "--as", ROOT)


# -- a brand, a right and a notice -----------------------------------------------------------


def add_right(tmp_path: Path, notifier: str, number: str, by: str) -> str:
    certificate = tmp_path / f"euipo-{number}.pdf"
    certificate.write_bytes(b"%PDF-1.7 registration certificate " + number.encode())
    return ok(
        "notifier",
        "add-right",
        notifier,
        "--type",
        "trademark",
        "--number",
        number,
        "--jurisdiction",
        "eu",
        "--certificate",
        str(certificate),
        "--as",
        by,
        "-q",
    ).strip()


def brand_with_right(
    tmp_path: Path,
    name: str = "Aurelia Leather",
    email: str = "legal@aurelia.example",
    admin: str = JEANNE,
) -> tuple[str, str]:
    """A brand registered by the platform, its notifier_admin, and a right the brand
    registered and a supervisor verified (needs the `staff` fixture)."""
    notifier = ok(
        "notifier",
        "register",
        "--name",
        name,
        "--kind",
        "brand",
        "--email",
        email,
        "--as",
        ONBOARDING,
        "-q",
    ).strip()
    ok("access", "grant", admin, "notifier_admin", "--notifier", notifier, "--as", ROOT)
    right = add_right(tmp_path, notifier, "018234567", admin)
    ok("notifier", "verify-right", notifier, right, "--as", SOFIA)
    return notifier, right


def notice_file(tmp_path: Path, notifier: str, right: str, **changes: Any) -> Path:
    data = json.loads(ok("notice", "template", "--notifier", notifier, "--right", right))
    data.update(changes)
    path = tmp_path / f"notice-{uuid4().hex[:8]}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def filed(tmp_path: Path, staff: None) -> dict[str, str]:
    notifier, right = brand_with_right(tmp_path)
    notice = str(notice_file(tmp_path, notifier, right))
    case = ok("notice", "file", "--json", notice, "--as", JEANNE, "-q").strip()
    return {"notifier": notifier, "right": right, "case": case}


# -- the lifecycle ---------------------------------------------------------------------------


def test_a_case_goes_from_filing_to_reinstatement_through_the_cli(
    tmp_path: Path, filed: dict[str, str]
) -> None:
    case = filed["case"]
    taken = ok(
        "case",
        "take-down",
        case,
        "--facts",
        "Test buy 88121: counterfeit hardware",
        "--as",
        ALICE,
    )
    assert "taken_down" in taken and "counter_notice deadline" in taken
    ok(
        "case",
        "counter-notice",
        case,
        "--statement",
        "Genuine stock, invoice 2291 attached",
        "--consent",
        "--as",
        SELLER,
    )
    forwarded = ok("case", "forward", case, "--as", ALICE)
    assert "forwarded_to_notifier" in forwarded and "restoration deadline" in forwarded

    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    fired = ok("deadlines", "run", "--now", later, "--rehearsal", "--as", ROOT)
    assert "fired" in fired and "restoration" in fired and "→ reinstated" in fired
    assert "1 fired, 0 skipped" in fired

    shown = json.loads(ok("case", "show", case, "--json", "--as", ALICE))
    assert shown["state"] == "reinstated"
    assert [e["event_type"] for e in shown["timeline"]] == [
        "filed",
        "taken_down",
        "seller_notified",
        "counter_noticed",
        "forwarded_to_notifier",
        "deadline_missed",
    ]
    assert shown["timeline"][0]["actor"] == JEANNE
    assert shown["timeline"][3]["actor"] == SELLER  # who gave it, not the listing's seller id
    assert shown["timeline"][-1]["actor"] == "system:ntd"  # the deadline is the system's
    assert shown["timeline"][-1]["at"].startswith(later[:16])

    before = ok("case", "history", case, "--version", "1", "--as", ALICE)
    assert "filed  (normal lane, version 1)" in before
    assert "taken_down" not in before and "none yet (no decision)" in before
    past = json.loads(ok("case", "history", case, "--version", "1", "--json", "--as", ALICE))
    assert past["state"] == "filed" and len(past["timeline"]) == 1

    text = ok("case", "show", case, "--as", ALICE)
    for part in (
        "reinstated",
        "Aurelia Leather",
        "marketly/B0912-7731",
        "timeline",
        "DECISION_GROUND_ILLEGAL_CONTENT",
        "agent:alice",
        "deadline_missed",
    ):
        assert part in text


def test_history_as_of_a_moment_shows_the_case_as_it_stood(filed: dict[str, str]) -> None:
    case = filed["case"]
    ok(
        "case",
        "request-clarification",
        case,
        "--question",
        "Which class covers bags?",
        "--as",
        ALICE,
    )
    now = datetime.now(UTC) + timedelta(seconds=1)
    as_of = json.loads(
        ok("case", "history", case, "--as-of", now.isoformat(), "--json", "--as", ALICE)
    )
    assert as_of["state"] == "awaiting_clarification"
    assert "clarification" in as_of["deadlines"]


def test_refiling_a_listing_points_to_its_open_case(tmp_path: Path, filed: dict[str, str]) -> None:
    again = ok(
        "notice",
        "file",
        "--json",
        str(notice_file(tmp_path, filed["notifier"], filed["right"])),
        "--as",
        JEANNE,
    )
    assert "0 new cases, 1 already open" in again and filed["case"] in again


@pytest.mark.usefixtures("staff")
def test_the_filer_is_who_as_names_not_who_the_notice_says(tmp_path: Path) -> None:
    notifier, right = brand_with_right(tmp_path)
    notice = notice_file(tmp_path, notifier, right, submitted_by="somebody.else")
    case = ok("notice", "file", "--json", str(notice), "--as", JEANNE, "-q").strip()
    shown = json.loads(ok("case", "show", case, "--json", "--as", ALICE))
    assert shown["sworn"]["submitted_by"] == "j.moreau"
    assert shown["timeline"][0]["actor"] == JEANNE


@pytest.mark.usefixtures("staff")
def test_a_notice_can_be_filed_from_flags(tmp_path: Path) -> None:
    notifier, right = brand_with_right(tmp_path)
    sha = "ab" * 32
    receipt = ok(
        "notice",
        "file",
        "--notifier",
        notifier,
        "--right",
        right,
        "--as",
        JEANNE,
        "--listing",
        "marketly:MK1:https://marketly.example/item/MK1:shop-1",
        "--listing",
        "bazario:42:https://bazario.example/item/42:shop-2",
        "--reason",
        "counterfeit",
        "--explanation",
        "Test buy 1: counterfeit serial tags",
        "--evidence",
        f"test_buy:order marketly:1:{sha}",
        "--contact-name",
        "Jeanne Moreau",
        "--contact-email",
        "legal@aurelia.example",
        "--signature",
        "/s/ Jeanne Moreau",
        "--good-faith",
        "--accurate",
    )
    assert "2 listings, 2 new cases" in receipt
    assert "marketly/MK1" in receipt and "bazario/42" in receipt


def test_every_decision_command_records_its_statement_of_reasons(filed: dict[str, str]) -> None:
    case = filed["case"]
    ok(
        "case",
        "decline",
        case,
        "--facts",
        "Genuine goods resold in the EEA",
        "--territory",
        "de",
        "--visibility",
        "none",
        "--as",
        ALICE,
    )
    reasons = json.loads(ok("case", "show", case, "--json", "--as", ALICE))["reasons"]
    assert reasons["ground"] == "DECISION_GROUND_NOT_ILLEGAL"
    assert reasons["legal_ground"].startswith("KEYWORD_TRADEMARK_INFRINGEMENT")
    assert reasons["territorial_scope"] == ["DE"]
    assert reasons["visibility"] == ["DECISION_VISIBILITY_NONE"]


def test_the_appeal_path_commands_work_in_sequence(tmp_path: Path, filed: dict[str, str]) -> None:
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit", "--as", ALICE)
    ok("case", "counter-notice", case, "--statement", "Mine", "--as", SELLER)
    ok("case", "forward", case, "--as", ALICE)
    ok(
        "case",
        "report-litigation",
        case,
        "--court",
        "LG München I",
        "--reference",
        "33 O 1/26",
        "--as",
        JEANNE,
    )
    ok("case", "reject-appeal", case, "--facts", "Court injunction", "--as", ALICE)
    closed = ok("case", "close", case, "--reason", "Appeal decided; takedown final", "--as", ALICE)
    assert "closed" in closed


def test_audit_queries_stream_in_every_format_and_verify_the_chain(filed: dict[str, str]) -> None:
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit", "--as", SOFIA)
    query = ("audit", "query", "--as", AUDREY)
    table = ok(*query, "--case", case, "--format", "table").splitlines()
    assert table[0].split()[:3] == ["SEQ", "OCCURRED", "AGGREGATE"]
    assert [line.split()[8] for line in table[1:]] == ["filed", "taken_down", "seller_notified"]
    rows = list(csv.DictReader(io.StringIO(ok(*query, "--case", case, "--format", "csv"))))
    assert [r["event_type"] for r in rows] == ["filed", "taken_down", "seller_notified"]
    lines = ok(*query, "--actor", SOFIA, "--format", "jsonl").splitlines()
    assert [json.loads(line)["event_type"] for line in lines] == ["right_verified", "taken_down"]
    assert json.loads(lines[1])["reasons"]["facts"] == "Counterfeit"
    by_brand = ok(*query, "--brand", "aurelia", "--type", "filed", "--format", "csv")
    assert len(list(csv.DictReader(io.StringIO(by_brand)))) == 1
    assert "audit trail intact" in ok("audit", "verify", "--as", AUDREY)


def test_a_tampered_audit_row_fails_verification_naming_the_link(
    data_dir: Path, filed: dict[str, str]
) -> None:
    ok("audit", "verify", "--as", AUDREY)
    with sqlite3.connect(data_dir / "read.db") as db:
        seq = db.execute("SELECT max(seq) FROM read_audit WHERE event_type = 'filed'").fetchone()
        db.execute("UPDATE read_audit SET actor = 'agent:mallory' WHERE seq = ?", seq)
    result = run("audit", "verify", "--as", AUDREY)
    assert result.exit_code == 1
    [line] = error_lines(result)
    assert f"seq {seq[0]}" in line and "hash mismatch" in line


def test_the_dashboard_resolves_a_brand_by_name_prefix(filed: dict[str, str]) -> None:
    ok("case", "take-down", filed["case"], "--facts", "Counterfeit", "--as", ALICE)
    text = ok("dashboard", "--brand", "aurel", "--as", JEANNE)  # the brand's own user
    assert "Aurelia Leather" in text and "takedown rate 100.0 %" in text
    board = json.loads(
        ok("dashboard", "--brand", filed["notifier"], "--format", "json", "--as", ALICE)
    )
    assert board["taken_down"] == 1 and board["name"] == "Aurelia Leather"
    assert "Aurelia Leather" in ok("notifier", "list", "--as", ALICE)


@pytest.mark.usefixtures("staff")
def test_notifier_standing_commands_change_its_standing(tmp_path: Path) -> None:
    notifier, right = brand_with_right(tmp_path)
    refused = run("notifier", "admit", notifier, "--reason", "Pilot brand", "--as", ALICE)
    assert refused.exit_code == 1
    [line] = error_lines(refused)
    assert "agent:alice may not admit notifiers to the trusted lane" in line
    ok(
        "notifier",
        "admit",
        notifier,
        "--reason",
        "Pilot brand: test buys confirmed 40 of 40",
        "--as",
        SOFIA,
    )
    assert json.loads(ok("notifier", "show", notifier, "--json", "--as", ALICE))["in_trusted_lane"]
    ok("notifier", "remove", notifier, "--reason", "reversal share 9 %", "--as", SOFIA)
    warned = ok("notifier", "warn", notifier, "--reason", "unfounded notices", "--as", SOFIA)
    assert "warned (unfounded share" in warned  # the share is ntd's figure, not the caller's
    ok(
        "notifier",
        "suspend",
        notifier,
        "--reason",
        "still unfounded",
        "--days",
        "30",
        "--as",
        SOFIA,
    )
    ok(
        "notifier",
        "reject-right",
        notifier,
        right,
        "--reason",
        "certificate mismatch",
        "--as",
        SOFIA,
    )
    shown = ok("notifier", "show", notifier, "--as", ALICE)
    assert "misuse warnings  1" in shown and "rejected" in shown and "until" in shown


def test_deadlines_run_skips_a_deadline_the_case_no_longer_has(
    filed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit", "--as", ALICE)
    later = (datetime.now(UTC) + timedelta(days=40)).isoformat()
    assert "counter_notice" in ok("deadlines", "list", "--until", later, "--as", ALICE)
    dry = ok("deadlines", "run", "--now", later, "--dry-run", "--as", ROOT)
    assert "would fire" in dry and "nothing fired" in dry
    ok("case", "withdraw", case, "--reason", "Settled", "--as", JEANNE)
    monkeypatch.setenv("NTD_FEED", "kafka")  # a lagging read model still lists it as due
    skipped = ok("deadlines", "run", "--now", later, "--rehearsal", "--as", ROOT)
    assert f"skipped     counter_notice  case {case}" in skipped
    assert "0 fired, 1 skipped" in skipped


def test_config_prints_settings_and_every_variable(data_dir: Path) -> None:
    out = ok("config")
    assert str(data_dir) in out and "NTD_RULES" in out and "counter_notice_days" in out


def test_the_data_dir_option_overrides_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "elsewhere"
    monkeypatch.setenv("NTD_DATA_DIR", str(tmp_path / "unused"))
    ok("--data-dir", str(other), "access", "init", ROOT)
    ok(
        "--data-dir",
        str(other),
        "notifier",
        "register",
        "--name",
        "X",
        "--email",
        "x@y.example",
        "--as",
        ROOT,
    )
    assert (other / "events.db").exists() and not (tmp_path / "unused").exists()


def test_the_template_is_a_valid_notice() -> None:
    parse_notice(json.loads(ok("notice", "template")))


# -- user mistakes ---------------------------------------------------------------------------


def _listing(n: int) -> dict[str, str]:
    return {
        "marketplace": "marketly",
        "listing_id": f"MK{n}",
        "url": f"https://marketly.example/item/MK{n}",
        "seller_id": "s-1",
    }


@pytest.mark.usefixtures("staff")
@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("case", "show", "not-an-id", "--as", ALICE), 2, "'not-an-id' is not an id"),
        (("case", "show", str(uuid4()), "--as", ALICE), 1, "no case"),
        (
            ("case", "take-down", str(uuid4()), "--facts", "x", "--as", "wizard:merlin"),
            2,
            "'wizard:merlin' is not an actor",
        ),
        (
            ("case", "history", str(uuid4()), "--as-of", "last tuesday", "--as", ALICE),
            2,
            "is not an ISO date or time",
        ),
        (
            ("case", "history", str(uuid4()), "--as", ALICE),
            2,
            "give exactly one of --as-of TIME or --version",
        ),
        (("case", "take-down", str(uuid4()), "--as", ALICE), 2, "Missing option '--facts'"),
        (("notice", "file", "--json", "/no/such/notice.json", "--as", JEANNE), 2, "No such file"),
        (("notice", "file", "--json", "-", "--as", JEANNE), 2, "not JSON"),
        (("notifier", "show", str(uuid4()), "--as", ALICE), 1, "no notifier"),
        (("dashboard", "--brand", "Nobody", "--as", ALICE), 2, "no notifier is named 'Nobody'"),
        (
            ("deadlines", "run", "--now", "2026-13-45", "--as", ROOT),
            2,
            "is not an ISO date or time",
        ),
        (
            (
                "notifier",
                "add-right",
                str(uuid4()),
                "--type",
                "trademark",
                "--number",
                "1",
                "--jurisdiction",
                "EU",
                "--as",
                ALICE,
            ),
            2,
            "give exactly one of --certificate",
        ),
    ],
)
def test_a_user_mistake_gets_one_clear_error_line(
    args: tuple[str, ...], code: int, message: str
) -> None:
    result = run(*args, input="{not json")
    assert result.exit_code == code
    [line] = error_lines(result)
    assert message in line
    assert result.stdout == ""


def test_an_illegal_step_names_the_state_and_what_is_allowed(filed: dict[str, str]) -> None:
    result = run("case", "forward", filed["case"], "--as", ALICE)
    assert result.exit_code == 1
    [line] = error_lines(result)
    assert "is filed: cannot forward to notifier" in line and "allowed now:" in line


def test_an_invalid_notice_lists_each_problem_on_its_own_line(
    tmp_path: Path, filed: dict[str, str]
) -> None:
    bad = notice_file(
        tmp_path,
        filed["notifier"],
        filed["right"],
        signature="",
        good_faith_statement=False,
        listings=[{**_listing(1), "url": "ftp://x"}],
    )
    result = run("notice", "file", "--json", str(bad), "--as", JEANNE)
    assert result.exit_code == 1
    head, *problems = error_lines(result)
    assert head == "ntd: error: notice refused (3 problems):"
    assert [p.removeprefix("ntd: error:").strip().split(":")[0] for p in problems] == [
        "listings.0.url",
        "good_faith_statement",
        "signature",
    ]


def test_a_notice_of_more_than_300_listings_is_refused(
    tmp_path: Path, filed: dict[str, str]
) -> None:
    big = notice_file(
        tmp_path, filed["notifier"], filed["right"], listings=[_listing(n) for n in range(301)]
    )
    result = run("notice", "file", "--json", str(big), "--as", JEANNE)
    assert result.exit_code == 1
    assert any("at most 300 listings, this one names 301" in line for line in error_lines(result))


def test_a_bad_setting_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NTD_RULES", '{"counter_notice_days": "soon"}')
    result = run("config")
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "NTD_RULES" in line and "counter_notice_days" in line


def test_a_json_notice_that_is_not_an_object_is_a_usage_error() -> None:
    result = run("notice", "file", "--json", "-", "--as", JEANNE, input="[1, 2]")
    assert result.exit_code == 2 and "must be a JSON object" in result.stderr


# -- who may do what -------------------------------------------------------------------------


def case_state(case: str) -> str:
    return str(json.loads(ok("case", "show", case, "--json", "--as", ALICE))["state"])


def test_a_seller_may_not_take_down_a_case_and_nothing_changes(
    data_dir: Path, filed: dict[str, str]
) -> None:
    case = filed["case"]
    before = stored_events(data_dir)
    result = run("case", "take-down", case, "--facts", "x", "--as", SELLER)
    assert result.exit_code == 1 and result.stdout == ""
    [line] = error_lines(result)
    assert line.startswith(f"ntd: error: {SELLER} may not take down cases (allowed: agent, ")
    assert (
        "supervisor" in line and f"{SELLER} holds seller_user for seller {LISTING_SELLER}" in line
    )
    assert stored_events(data_dir) == before
    assert case_state(case) == "filed"


def test_a_brand_may_not_verify_its_own_right_and_nothing_changes(
    tmp_path: Path, data_dir: Path, filed: dict[str, str]
) -> None:
    notifier = filed["notifier"]
    pending = add_right(tmp_path, notifier, "018999999", JEANNE)
    before = stored_events(data_dir)
    result = run("notifier", "verify-right", notifier, pending, "--as", JEANNE)
    assert result.exit_code == 1 and result.stdout == ""
    [line] = error_lines(result)
    assert f"{JEANNE} may not verify rights (allowed: supervisor;" in line
    assert stored_events(data_dir) == before
    rights = json.loads(ok("notifier", "show", notifier, "--json", "--as", ALICE))["rights"]
    assert {r["right_id"]: r["status"] for r in rights}[pending] == "pending"
    ok("notifier", "verify-right", notifier, pending, "--as", SOFIA)  # a supervisor may


@pytest.mark.parametrize(
    "command",
    [
        ("admit", "--takedown-share", "0.95"),
        ("admit", "--reversal-share", "0.01"),
        ("admit", "--notices", "40"),
        ("warn", "--unfounded-share", "0.4"),
    ],
    ids=lambda c: f"{c[0]} {c[1]}",
)
def test_a_caller_supplied_trusted_lane_figure_is_refused_and_nothing_changes(
    data_dir: Path, filed: dict[str, str], command: tuple[str, str, str]
) -> None:
    notifier = filed["notifier"]
    name, option, figure = command
    before = stored_events(data_dir)
    result = run("notifier", name, notifier, option, figure, "--reason", "x", "--as", SOFIA)
    assert result.exit_code == 2 and result.stdout == ""
    [line] = error_lines(result)
    assert f"{option} is not taken" in line and "computed by ntd" in line
    assert stored_events(data_dir) == before
    shown = json.loads(ok("notifier", "show", notifier, "--json", "--as", ALICE))
    assert shown["in_trusted_lane"] is False and shown["warnings"] == 0


def test_a_command_without_an_identity_is_refused_with_one_clear_line(
    filed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run("case", "show", filed["case"])
    assert result.exit_code == 2 and result.stdout == ""
    assert error_lines(result) == [
        "ntd: error: who gives this command? pass --as KIND:ID (e.g. --as agent:alice) "
        "or set NTD_ACTOR"
    ]
    monkeypatch.setenv("NTD_ACTOR", ALICE)
    assert "filed" in ok("case", "show", filed["case"])


def test_the_system_is_no_identity_to_give_commands_as(
    data_dir: Path, filed: dict[str, str]
) -> None:
    before = stored_events(data_dir)
    result = run("case", "take-down", filed["case"], "--facts", "x", "--as", "system:ntd")
    assert result.exit_code == 2 and result.stdout == ""
    [line] = error_lines(result)
    assert "system:ntd" in line and "the system acts for policies and deadlines only" in line
    assert stored_events(data_dir) == before
    assert case_state(filed["case"]) == "filed"


def test_the_first_admin_is_named_once(data_dir: Path) -> None:
    assert "agent:root is the first admin" in ok("access", "init", ROOT)
    listed = ok("access", "list", "--json", "--as", ROOT)
    before = stored_events(data_dir)
    again = run("access", "init", "agent:mallory")
    assert again.exit_code == 1 and again.stdout == ""
    [line] = error_lines(again)
    assert "already has its first admin" in line
    assert stored_events(data_dir) == before
    assert ok("access", "list", "--json", "--as", ROOT) == listed
    assert [(g["principal"], g["grant"]["role"]) for g in json.loads(listed)] == [(ROOT, "admin")]
    refused = run("access", "list", "--as", "agent:mallory")
    assert refused.exit_code == 1
    [line] = error_lines(refused)
    assert "agent:mallory may not read who holds which roles" in line


def test_a_notifier_admin_grants_roles_for_its_own_notifier_only(
    tmp_path: Path, data_dir: Path, filed: dict[str, str]
) -> None:
    other, _ = brand_with_right(
        tmp_path, "Halcyon Watches", "legal@halcyon.example", "notifier_user:h.berg"
    )
    reporter = "notifier_user:m.rossi"
    ok("access", "grant", reporter, "reporter", "--notifier", filed["notifier"], "--as", JEANNE)
    listed = ok("access", "list", reporter, "--json", "--as", AUDREY)
    before = stored_events(data_dir)
    result = run("access", "grant", reporter, "reporter", "--notifier", other, "--as", JEANNE)
    assert result.exit_code == 1 and result.stdout == ""
    [line] = error_lines(result)
    assert line == f"ntd: error: no notifier {other}"
    assert stored_events(data_dir) == before
    assert ok("access", "list", reporter, "--json", "--as", AUDREY) == listed
    assert [g["grant"]["notifier_id"] for g in json.loads(listed)] == [filed["notifier"]]


def test_another_brands_case_is_not_there_for_a_reporter(
    tmp_path: Path, filed: dict[str, str]
) -> None:
    other_admin = "notifier_user:h.berg"
    other, right = brand_with_right(
        tmp_path, "Halcyon Watches", "legal@halcyon.example", other_admin
    )
    notice = str(notice_file(tmp_path, other, right))
    theirs = ok("notice", "file", "--json", notice, "--as", other_admin, "-q").strip()
    reporter = "notifier_user:m.rossi"
    ok("access", "grant", reporter, "reporter", "--notifier", filed["notifier"], "--as", JEANNE)
    assert "Aurelia Leather" in ok("case", "show", filed["case"], "--as", reporter)
    for command in (("show",), ("history", "--version", "1")):
        result = run("case", command[0], theirs, *command[1:], "--as", reporter)
        assert result.exit_code == 1 and result.stdout == ""
        assert error_lines(result) == [f"ntd: error: no case {theirs}"]
    assert "Halcyon Watches" in ok("case", "show", theirs, "--as", other_admin)


def test_a_name_tells_no_one_about_another_partys_notifier(
    tmp_path: Path, filed: dict[str, str]
) -> None:
    brand_with_right(tmp_path, "Halcyon Watches", "legal@halcyon.example", "notifier_user:h.berg")
    stranger = run("dashboard", "--brand", "", "--as", "seller:nobody")
    assert stranger.exit_code == 1
    [line] = error_lines(stranger)
    assert "may not read dashboards" in line and "Halcyon" not in line
    own = run("dashboard", "--brand", "", "--as", JEANNE)  # '' prefixes every name
    assert own.exit_code == 0, own.output
    assert "Aurelia Leather" in own.stdout
    other = run("dashboard", "--brand", "Halcyon", "--as", JEANNE)
    [line] = error_lines(other)
    assert "no notifier is named 'Halcyon'" in line
    grant = run(
        "access", "grant", "notifier_user:x", "reporter", "--notifier", "Halc", "--as", JEANNE
    )
    assert [line for line in error_lines(grant) if "Halcyon" in line] == []


def test_an_auditor_finds_the_systems_own_rows(filed: dict[str, str]) -> None:
    ok("case", "take-down", filed["case"], "--facts", "Counterfeit", "--as", ALICE)
    rows = ok("audit", "query", "--actor", "system:ntd", "--format", "jsonl", "--as", AUDREY)
    assert rows and all(json.loads(r)["actor"] == "system:ntd" for r in rows.splitlines())
    bad = run("audit", "query", "--actor", "nobody", "--as", AUDREY)
    assert bad.exit_code == 2 and len(error_lines(bad)) == 1


def test_a_seller_given_wrongly_is_one_clear_line(filed: dict[str, str]) -> None:
    for seller in ("no-slash", "m" * 150 + "/x"):
        result = run("access", "grant", "seller:s", "seller_user", "--seller", seller, "--as", ROOT)
        assert result.exit_code == 2 and len(error_lines(result)) == 1, result.output


def test_only_a_supervisor_lifts_a_seller_suspension(filed: dict[str, str]) -> None:
    agent = run("seller", "lift-suspension", "marketly/nobody", "--reason", "r", "--as", ALICE)
    assert agent.exit_code == 1
    [line] = error_lines(agent)
    assert line.startswith("ntd: error: agent:alice may not lift seller suspensions")
    missing = run("seller", "lift-suspension", "marketly/nobody", "--reason", "r", "--as", SOFIA)
    assert error_lines(missing) == [f"ntd: error: no seller {Seller.id_for('marketly', 'nobody')}"]
    bad = run("seller", "show", "no-slash", "--as", SOFIA)
    assert bad.exit_code == 2 and len(error_lines(bad)) == 1


def test_access_list_as_of_shows_a_revoked_registered_agent_before_and_not_after(
    filed: dict[str, str],
) -> None:
    agent = "notifier_user:k.law"
    brand = filed["notifier"]
    ok("access", "grant", agent, "registered_agent", "--notifier", brand, "--as", JEANNE)
    held = datetime.now(UTC)
    ok(
        "access",
        "revoke",
        agent,
        "registered_agent",
        "--notifier",
        brand,
        "--reason",
        "mandate ended",
        "--as",
        JEANNE,
    )
    gone = datetime.now(UTC)

    def as_of(moment: datetime) -> list[dict[str, Any]]:
        text = ok("access", "list", agent, "--as-of", moment.isoformat(), "--json", "--as", AUDREY)
        return list(json.loads(text))

    [then] = as_of(held)
    assert then["principal"] == agent
    assert then["grant"] == {"role": "registered_agent", "notifier_id": brand, "seller": None}
    assert as_of(gone) == []
    assert "no roles held at" in ok(
        "access", "list", agent, "--as-of", gone.isoformat(), "--as", AUDREY
    )
    assert "no roles held" in ok("access", "list", agent, "--as", AUDREY)
    refused = run("case", "show", filed["case"], "--as", agent)  # and it acts no more
    assert refused.exit_code == 1
    [line] = error_lines(refused)
    assert f"{agent} may not read cases" in line


# -- Joint-Force collaboration ---------------------------------------------------------------

PHOTO = "ab" * 32


def test_identification_conversation_and_a_takedown_citing_it_through_the_cli(
    filed: dict[str, str],
) -> None:
    case, notifier = filed["case"], filed["notifier"]
    ok("notifier", "assign-manager", notifier, ONBOARDING, "--as", SOFIA)
    assert "account manager  agent:onboarding" in ok("notifier", "show", notifier, "--as", JEANNE)

    asked = ok(
        "case",
        "request-identification",
        case,
        "--question",
        "Are these bags genuine?",
        "--item",
        "listing:https://marketly.example/item/88",
        "--item",
        f"photo:listing-3.jpg:{PHOTO}",
        "--as",
        ALICE,
    )
    assert "identification deadline" in asked
    pending = ok("case", "show", case, "--as", JEANNE)
    assert "open request  “Are these bags genuine?”" in pending
    assert f"photo: listing-3.jpg  sha256 {PHOTO}" in pending

    ok(
        "case",
        "identify",
        case,
        "--verdict",
        "counterfeit",
        "--basis",
        "No hologram; stitching wrong",
        "--evidence",
        f"photo:compare.jpg:{PHOTO}",
        "--as",
        JEANNE,
    )
    ok("case", "message", case, "--text", "Test buy arrives Thursday\nwith invoice", "--as", JEANNE)
    ok("case", "message", case, "--text", "Thanks, deciding now", "--as", ALICE)
    ok("case", "take-down", case, "--facts", "Brand identified counterfeit", "--as", ALICE)

    shown = ok("case", "show", case, "--as", ALICE)
    assert "identification cited  counterfeit · by notifier_user:j.moreau" in shown
    assert "notifier_user:j.moreau (notifier_admin)" in shown
    assert "    Test buy arrives Thursday\n    with invoice" in shown
    assert "agent:alice (agent)" in shown and "message_posted" in shown
    data = json.loads(ok("case", "show", case, "--json", "--as", ALICE))
    assert data["identification"]["verdict"] == "counterfeit"
    assert data["identification_cited"]["basis"] == "No hologram; stitching wrong"
    assert [m["role"] for m in data["conversation"]] == ["notifier_admin", "agent"]
    taken = next(e for e in data["timeline"] if e["event_type"] == "taken_down")
    assert taken["payload"]["identification"]["verdict"] == "counterfeit"

    seen_by_seller = ok("case", "show", case, "--as", SELLER)
    assert "conversation" not in seen_by_seller and "Thursday" not in seen_by_seller
    assert "message_posted" not in seen_by_seller
    as_json = json.loads(ok("case", "show", case, "--json", "--as", SELLER))
    assert "conversation" not in as_json
    assert "message_posted" not in {e["event_type"] for e in as_json["timeline"]}


def test_a_genuine_answer_needs_despite_genuine_and_is_flagged_for_the_agent(
    filed: dict[str, str],
) -> None:
    case = filed["case"]
    ok("case", "request-identification", case, "--question", "Genuine?", "--as", ALICE)
    ok("case", "identify", case, "--verdict", "genuine", "--basis", "Serial 4471", "--as", JEANNE)
    assert "the notifier says the goods are GENUINE" in ok("case", "show", case, "--as", ALICE)

    refused = run("case", "take-down", case, "--facts", "Counterfeit", "--as", ALICE)
    assert refused.exit_code == 1
    assert "that the goods are genuine" in error_lines(refused)[0]
    assert "--despite-genuine" in error_lines(refused)[0]

    ok(
        "case",
        "take-down",
        case,
        "--despite-genuine",
        "--facts",
        "Serial 4471 is on the brand's own stolen-goods list",
        "--as",
        ALICE,
    )
    assert case_state(case) == "taken_down"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--item", "photo:p.jpg"), "a photo item needs the sha256 of its file"),
        (("--item", "selfie:p.jpg"), "'selfie:p.jpg': kind: Input should be"),
        (("--item", "photo"), "expected KIND:REFERENCE"),
    ],
)
def test_a_malformed_identification_item_is_one_clear_line(
    filed: dict[str, str], args: tuple[str, ...], problem: str
) -> None:
    result = run(
        "case", "request-identification", filed["case"], "--question", "Q", *args, "--as", ALICE
    )

    assert result.exit_code == 2
    assert problem in result.stderr


def test_a_message_with_a_control_character_is_refused_and_a_seller_may_not_post(
    filed: dict[str, str], data_dir: Path
) -> None:
    stored = stored_events(data_dir)

    bell = run("case", "message", filed["case"], "--text", "ring\x07", "--as", ALICE)
    seller = run("case", "message", filed["case"], "--text", "hello", "--as", SELLER)

    assert bell.exit_code == 1 and "control characters: U+0007" in error_lines(bell)[0]
    assert seller.exit_code == 1 and "may not post messages" in error_lines(seller)[0]
    assert stored_events(data_dir) == stored


def test_only_a_supervisor_assigns_an_account_manager_who_must_hold_the_role(
    filed: dict[str, str],
) -> None:
    notifier = filed["notifier"]

    by_agent = run("notifier", "assign-manager", notifier, ONBOARDING, "--as", ALICE)
    not_a_manager = run("notifier", "assign-manager", notifier, ALICE, "--as", SOFIA)

    assert "may not assign account managers" in error_lines(by_agent)[0]
    assert error_lines(not_a_manager) == [
        "ntd: error: agent:alice does not hold account_manager; grant it first "
        "(ntd access grant agent:alice account_manager)"
    ]
    ok("access", "grant", ALICE, "account_manager", "--as", ROOT)
    ok("notifier", "assign-manager", notifier, ONBOARDING, "--as", SOFIA)
    ok("notifier", "assign-manager", notifier, ALICE, "--as", SOFIA)
    shown = json.loads(ok("notifier", "show", notifier, "--json", "--as", SOFIA))
    assert shown["account_manager"] == ALICE
    assert [m["manager"] for m in shown["account_managers"]] == [ONBOARDING, ALICE]


# -- help ------------------------------------------------------------------------------------


def command_paths(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


ALL_COMMANDS = list(command_paths(cli))


def test_the_command_tree_covers_every_lifecycle_step() -> None:
    names = {" ".join(path) for path, _ in ALL_COMMANDS}
    for wanted in (
        "case take-down",
        "case decline",
        "case confirm",
        "case reverse",
        "case counter-notice",
        "case forward",
        "case report-litigation",
        "case uphold-appeal",
        "case reject-appeal",
        "case withdraw",
        "case close",
        "case request-clarification",
        "case provide-clarification",
        "case request-identification",
        "case identify",
        "case message",
        "notifier assign-manager",
        "notifier admit",
        "notifier remove",
        "notifier warn",
        "notifier suspend",
        "deadlines run",
        "audit verify",
        "access init",
        "access grant",
        "access revoke",
        "access list",
        "demo",
    ):
        assert wanted in names


@pytest.mark.parametrize("path", [p for p, _ in ALL_COMMANDS], ids=" ".join)
def test_every_command_has_help_with_examples(path: tuple[str, ...]) -> None:
    out = ok(*path, "--help")
    assert out.startswith("Usage:") and " ".join(path) in out.splitlines()[0]
    assert "Example" in out


def test_the_installed_script_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTD_")}
    done = subprocess.run(
        [str(NTD_SCRIPT), "--data-dir", str(tmp_path), "case", "show", "x", "--as", ALICE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("ntd: error:") and "Traceback" not in done.stderr
    helped = subprocess.run(
        [str(NTD_SCRIPT), "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert helped.returncode == 0 and "notice and takedown" in helped.stdout.lower()


def test_the_stores_the_script_creates_are_its_users_alone(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTD_")}
    where = tmp_path / "fresh"
    done = subprocess.run(
        [str(NTD_SCRIPT), "--data-dir", str(where), "access", "init", ROOT],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert where.stat().st_mode & 0o777 == 0o700
    files = [p for p in where.rglob("*") if p.is_file()]
    assert files and all(p.stat().st_mode & 0o077 == 0 for p in files), [
        (p.name, oct(p.stat().st_mode)) for p in files
    ]


def test_an_unknown_event_type_is_refused_not_an_empty_answer(filed: dict[str, str]) -> None:
    result = run("audit", "query", "--type", "bogus", "--as", AUDREY)
    assert result.exit_code == 2 and result.stdout == ""
    [line] = error_lines(result)
    assert "no event is of type 'bogus'" in line and "taken_down" in line
    assert ok("audit", "query", "--type", "filed", "--format", "jsonl", "--as", AUDREY)


# -- tokens ----------------------------------------------------------------------------------


def test_a_token_is_printed_once_listed_without_its_secret_and_revoked(
    staff: None, data_dir: Path
) -> None:
    text = ok("tokens", "create", AUDREY, "--expires-days", "30", "--as", ROOT, "-q").strip()
    assert text.startswith("ntd_")
    listing = ok("tokens", "list", "--as", AUDREY, "--json")
    assert text.rsplit("_", 1)[1] not in listing
    with sqlite3.connect(data_dir / "events.db") as db:
        states = b"".join(row[0] for row in db.execute("SELECT state FROM stored_events"))
    db.close()
    assert text.rsplit("_", 1)[1].encode() not in states
    token_id = json.loads(listing)[0]["token_id"]
    refused = run("tokens", "revoke", token_id, "--reason", "x", "--as", ALICE)
    assert refused.exit_code == 1
    assert error_lines(refused) == [
        "ntd: error: agent:alice may not revoke tokens (allowed: admin; agent:alice holds agent)"
    ]
    ok("tokens", "revoke", token_id, "--reason", "left", "--as", ROOT)
    assert json.loads(ok("tokens", "list", "--as", ROOT, "--json"))[0]["revoked_at"]


def test_a_case_list_in_csv_writes_a_formula_like_seller_id_as_text(
    tmp_path: Path, filed: dict[str, str]
) -> None:
    listing = {**_listing(7), "seller_id": '=HYPERLINK("http://evil.example")'}
    notice = notice_file(tmp_path, filed["notifier"], filed["right"], listings=[listing])
    ok("notice", "file", "--json", str(notice), "--as", JEANNE, "-q")

    rows = list(csv.DictReader(io.StringIO(ok("case", "list", "--format", "csv", "--as", ALICE))))

    sellers = {row["seller_id"] for row in rows}
    assert '\'=HYPERLINK("http://evil.example")' in sellers, sellers
