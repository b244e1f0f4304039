"""The `ntd` command line: a whole case lifecycle, every user mistake, help for every command."""

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


# -- a brand, a right and a notice -----------------------------------------------------------


def brand_with_right(tmp_path: Path) -> tuple[str, str]:
    notifier = ok(
        "notifier",
        "register",
        "--name",
        "Aurelia Leather",
        "--kind",
        "brand",
        "--email",
        "legal@aurelia.example",
        "--as",
        "agent:onboarding",
        "-q",
    ).strip()
    certificate = tmp_path / "euipo-018234567.pdf"
    certificate.write_bytes(b"%PDF-1.7 registration certificate")
    right = ok(
        "notifier",
        "add-right",
        notifier,
        "--type",
        "trademark",
        "--number",
        "018234567",
        "--jurisdiction",
        "eu",
        "--certificate",
        str(certificate),
        "-q",
    ).strip()
    ok("notifier", "verify-right", notifier, right, "--as", "agent:alice")
    return notifier, right


def notice_file(tmp_path: Path, notifier: str, right: str, **changes: Any) -> Path:
    data = json.loads(ok("notice", "template", "--notifier", notifier, "--right", right))
    data.update(changes)
    path = tmp_path / f"notice-{uuid4().hex[:8]}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def filed(tmp_path: Path) -> dict[str, str]:
    notifier, right = brand_with_right(tmp_path)
    case = ok("notice", "file", "--json", str(notice_file(tmp_path, notifier, right)), "-q").strip()
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
        "agent:alice",
    )
    assert "taken_down" in taken and "counter_notice deadline" in taken
    ok(
        "case",
        "counter-notice",
        case,
        "--statement",
        "Genuine stock, invoice 2291 attached",
        "--consent",
    )
    forwarded = ok("case", "forward", case)
    assert "forwarded_to_notifier" in forwarded and "restoration deadline" in forwarded

    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    fired = ok("deadlines", "run", "--now", later)
    assert "fired" in fired and "restoration" in fired and "→ reinstated" in fired
    assert "1 fired, 0 skipped" in fired

    shown = json.loads(ok("case", "show", case, "--json"))
    assert shown["state"] == "reinstated"
    assert [e["event_type"] for e in shown["timeline"]] == [
        "filed",
        "taken_down",
        "seller_notified",
        "counter_noticed",
        "forwarded_to_notifier",
        "deadline_missed",
    ]
    assert shown["timeline"][3]["actor"] == "seller:luxe-deals-88"
    assert shown["timeline"][-1]["at"].startswith(later[:16])

    before = ok("case", "history", case, "--version", "1")
    assert "filed  (normal lane, version 1)" in before
    assert "taken_down" not in before and "none yet (no decision)" in before
    past = json.loads(ok("case", "history", case, "--version", "1", "--json"))
    assert past["state"] == "filed" and len(past["timeline"]) == 1

    text = ok("case", "show", case)
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
    ok("case", "request-clarification", case, "--question", "Which class covers bags?")
    now = datetime.now(UTC) + timedelta(seconds=1)
    as_of = json.loads(ok("case", "history", case, "--as-of", now.isoformat(), "--json"))
    assert as_of["state"] == "awaiting_clarification"
    assert "clarification" in as_of["deadlines"]


def test_refiling_a_listing_points_to_its_open_case(tmp_path: Path, filed: dict[str, str]) -> None:
    again = ok(
        "notice", "file", "--json", str(notice_file(tmp_path, filed["notifier"], filed["right"]))
    )
    assert "0 new cases, 1 already open" in again and filed["case"] in again


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
        "--by",
        "j.moreau",
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
    )
    reasons = json.loads(ok("case", "show", case, "--json"))["reasons"]
    assert reasons["ground"] == "DECISION_GROUND_NOT_ILLEGAL"
    assert reasons["legal_ground"].startswith("KEYWORD_TRADEMARK_INFRINGEMENT")
    assert reasons["territorial_scope"] == ["DE"]
    assert reasons["visibility"] == ["DECISION_VISIBILITY_NONE"]


def test_the_appeal_path_commands_work_in_sequence(tmp_path: Path, filed: dict[str, str]) -> None:
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit")
    ok("case", "counter-notice", case, "--statement", "Mine", "--as", "seller:luxe-deals-88")
    ok("case", "forward", case)
    ok("case", "report-litigation", case, "--court", "LG München I", "--reference", "33 O 1/26")
    ok("case", "reject-appeal", case, "--facts", "Court injunction")
    closed = ok("case", "close", case, "--reason", "Appeal decided; takedown final")
    assert "closed" in closed


def test_audit_queries_stream_in_every_format_and_verify_the_chain(filed: dict[str, str]) -> None:
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit", "--as", "agent:alice")
    table = ok("audit", "query", "--case", case, "--format", "table").splitlines()
    assert table[0].split()[:3] == ["SEQ", "OCCURRED", "AGGREGATE"]
    assert [line.split()[8] for line in table[1:]] == ["filed", "taken_down", "seller_notified"]
    rows = list(
        csv.DictReader(io.StringIO(ok("audit", "query", "--case", case, "--format", "csv")))
    )
    assert [r["event_type"] for r in rows] == ["filed", "taken_down", "seller_notified"]
    lines = ok("audit", "query", "--actor", "agent:alice", "--format", "jsonl").splitlines()
    assert [json.loads(line)["event_type"] for line in lines] == ["right_verified", "taken_down"]
    assert json.loads(lines[1])["reasons"]["facts"] == "Counterfeit"
    by_brand = ok("audit", "query", "--brand", "aurelia", "--type", "filed", "--format", "csv")
    assert len(list(csv.DictReader(io.StringIO(by_brand)))) == 1
    assert "audit trail intact" in ok("audit", "verify")


def test_a_tampered_audit_row_fails_verification_naming_the_link(
    data_dir: Path, filed: dict[str, str]
) -> None:
    ok("audit", "verify")
    with sqlite3.connect(data_dir / "read.db") as db:
        seq = db.execute("SELECT max(seq) FROM read_audit WHERE event_type = 'filed'").fetchone()
        db.execute("UPDATE read_audit SET actor = 'agent:mallory' WHERE seq = ?", seq)
    result = run("audit", "verify")
    assert result.exit_code == 1
    [line] = error_lines(result)
    assert f"seq {seq[0]}" in line and "hash mismatch" in line


def test_the_dashboard_resolves_a_brand_by_name_prefix(filed: dict[str, str]) -> None:
    ok("case", "take-down", filed["case"], "--facts", "Counterfeit")
    text = ok("dashboard", "--brand", "aurel")
    assert "Aurelia Leather" in text and "takedown rate 100.0 %" in text
    board = json.loads(ok("dashboard", "--brand", filed["notifier"], "--format", "json"))
    assert board["taken_down"] == 1 and board["name"] == "Aurelia Leather"
    assert "Aurelia Leather" in ok("notifier", "list")


def test_notifier_standing_commands_change_its_standing(tmp_path: Path) -> None:
    notifier, right = brand_with_right(tmp_path)
    refused = run("notifier", "admit", notifier)
    assert refused.exit_code == 1 and "does not qualify" in refused.stderr
    ok(
        "notifier",
        "admit",
        notifier,
        "--takedown-share",
        "0.97",
        "--reversal-share",
        "0.01",
        "--notices",
        "40",
    )
    ok("notifier", "remove", notifier, "--reason", "reversal share 9 %")
    ok("notifier", "warn", notifier, "--reason", "unfounded notices", "--unfounded-share", "0.4")
    ok("notifier", "suspend", notifier, "--reason", "still unfounded", "--days", "30")
    ok("notifier", "reject-right", notifier, right, "--reason", "certificate mismatch")
    shown = ok("notifier", "show", notifier)
    assert "misuse warnings  1" in shown and "rejected" in shown and "until" in shown


def test_deadlines_run_skips_a_deadline_the_case_no_longer_has(
    filed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit")
    later = (datetime.now(UTC) + timedelta(days=40)).isoformat()
    assert "counter_notice" in ok("deadlines", "list", "--until", later)
    dry = ok("deadlines", "run", "--now", later, "--dry-run")
    assert "would fire" in dry and "nothing fired" in dry
    ok("case", "withdraw", case, "--reason", "Settled")
    monkeypatch.setenv("NTD_FEED", "kafka")  # a lagging read model still lists it as due
    skipped = ok("deadlines", "run", "--now", later)
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
    ok("--data-dir", str(other), "notifier", "register", "--name", "X", "--email", "x@y.example")
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


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("case", "show", "not-an-id"), 2, "'not-an-id' is not an id"),
        (("case", "show", str(uuid4())), 1, "no case"),
        (
            ("case", "take-down", str(uuid4()), "--facts", "x", "--as", "wizard:merlin"),
            2,
            "'wizard:merlin' is not an actor",
        ),
        (
            ("case", "history", str(uuid4()), "--as-of", "last tuesday"),
            2,
            "is not an ISO date or time",
        ),
        (("case", "history", str(uuid4())), 2, "give exactly one of --as-of TIME or --version"),
        (("case", "take-down", str(uuid4())), 2, "Missing option '--facts'"),
        (("notice", "file", "--json", "/no/such/notice.json"), 2, "No such file"),
        (("notice", "file", "--json", "-"), 2, "not JSON"),
        (("notifier", "show", str(uuid4())), 1, "no notifier"),
        (("dashboard", "--brand", "Nobody"), 2, "no notifier is named 'Nobody'"),
        (("deadlines", "run", "--now", "2026-13-45"), 2, "is not an ISO date or time"),
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
    result = run("case", "forward", filed["case"])
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
    result = run("notice", "file", "--json", str(bad))
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
    result = run("notice", "file", "--json", str(big))
    assert result.exit_code == 1
    assert any("at most 300 listings, this one names 301" in line for line in error_lines(result))


def test_a_bad_setting_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NTD_RULES", '{"counter_notice_days": "soon"}')
    result = run("config")
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "NTD_RULES" in line and "counter_notice_days" in line


def test_a_json_notice_that_is_not_an_object_is_a_usage_error() -> None:
    result = run("notice", "file", "--json", "-", input="[1, 2]")
    assert result.exit_code == 2 and "must be a JSON object" in result.stderr


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
        "notifier admit",
        "notifier remove",
        "notifier warn",
        "notifier suspend",
        "deadlines run",
        "audit verify",
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
        [str(NTD_SCRIPT), "--data-dir", str(tmp_path), "case", "show", "x"],
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
