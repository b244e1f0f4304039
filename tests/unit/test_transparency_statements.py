"""`ntd transparency statements`: every exported statement passes the EU Transparency
Database's rules (tests/unit/sor_rules.py, written from its source), puids are stable, JSON comes
in batches the batch endpoint takes, and --submit sends each decision once through a local
server that enforces those rules and answers duplicates and failures as the real API does."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from copy import deepcopy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result
from pydantic import ValidationError

from ntd.cli import CONTEXT, cli
from ntd.cli.kit import NtdGroup
from ntd.cli.transparency import transparency
from ntd.transparency.statements import Statement
from tests.unit import sor_rules
from tests.unit.test_cli import (  # the CLI tests' cast and helpers
    ALICE,
    AUDREY,
    JEANNE,
    SELLER,
    SOFIA,
    brand_with_right,
    notice_file,
    ok,
    staff,  # noqa: F401 (a fixture)
)

AUDITOR = "agent:audit.kim"  # the demo's auditor
SUPERVISOR = "agent:sofia.r"  # the demo's supervisor: reads the audit trail, not these exports
DEMO_ADMIN = "agent:admin.ops"
TOKEN = "X|ybqkCFX7ZkIFoLxtI0VAk1JBzMR9jVk4c4EU"

ROOT = (
    cli
    if "transparency" in cli.commands
    else NtdGroup(
        "ntd",
        callback=cli.callback,
        params=cli.params,
        commands={**cli.commands, "transparency": transparency},
        context_settings=CONTEXT,
    )
)
"""The root group with `ntd transparency` (registered there by the lead; added here until)."""


def run(*args: str) -> Result:
    result = CliRunner().invoke(ROOT, ["transparency", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def export(*args: str, who: str = AUDITOR) -> list[dict[str, Any]]:
    result = run("statements", *args, "--as", who)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("ntd: error:")]


# -- a demo store with many decisions ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`ntd demo --size 0.05` (7.7 s measured): hundreds of takedowns and a few suspensions."""
    where = tmp_path_factory.mktemp("demo") / "ntd"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NTD_DATA_DIR", str(where))
        patch.setenv("NTD_LOG_FORMAT", "json")
        result = CliRunner().invoke(cli, ["demo", "--size", "0.05"])
        assert result.exit_code == 0, result.output
    return where


@pytest.fixture
def on_demo(demo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("NTD_ACTOR", "NTD_TDB_TOKEN", "NTD_NOW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NTD_DATA_DIR", str(demo))
    monkeypatch.setenv("NTD_LOG_FORMAT", "json")
    return demo


def test_every_statement_of_the_demo_passes_the_databases_rules(on_demo: Path) -> None:
    statements = export()
    assert len(statements) > 100
    kinds = {("account" if "decision_account" in s else "listing") for s in statements}
    assert kinds == {"account", "listing"}  # takedowns and seller suspensions
    for statement in statements:
        assert sor_rules.problems(statement) == [], statement["puid"]
    assert len({s["puid"] for s in statements}) == len(statements)


def test_exporting_twice_gives_the_same_puids(on_demo: Path) -> None:
    first, second = export(), export()
    assert [s["puid"] for s in first] == [s["puid"] for s in second]
    assert first == second


def test_json_comes_in_batches_the_batch_endpoint_takes(on_demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "batches.json"
    result = run("statements", "--format", "json", "--out", str(out), "--as", AUDITOR)
    assert result.exit_code == 0, result.output
    bodies = json.loads(out.read_text())
    assert [len(b["statements"]) for b in bodies][:-1] == [100] * (len(bodies) - 1)
    for body in bodies:
        assert set(body) == {"statements"}
        assert sor_rules.batch_problems(body) == []
    assert [s for b in bodies for s in b["statements"]] == export()


def test_since_and_until_keep_the_decisions_made_between(on_demo: Path) -> None:
    every = export()
    days = sorted({s["application_date"] for s in every})
    middle = days[len(days) // 2]
    before = export("--until", middle)
    after = export("--since", middle)
    assert before and after
    assert all(s["application_date"] < middle for s in before)
    assert all(s["application_date"] >= middle for s in after)
    assert len(before) + len(after) == len(every)


@pytest.mark.parametrize("who", [SUPERVISOR, "seller:someone", "notifier_user:nobody"])
def test_only_auditors_and_admins_may_export(on_demo: Path, who: str) -> None:
    result = run("statements", "--as", who)
    assert result.exit_code == 1
    assert len(error_lines(result)) == 1 and "may not" in result.stderr
    assert result.stdout == ""


def test_an_admin_may_export(on_demo: Path) -> None:
    assert export(who=DEMO_ADMIN) == export()


# -- the rules, one failure mode at a time ------------------------------------------------------


@pytest.fixture(scope="module")
def valid() -> dict[str, Any]:
    """A statement as ntd exports a takedown."""
    return {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_DISABLED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "KEYWORD_TRADEMARK_INFRINGEMENT: infringement",
        "illegal_content_explanation": "The listing offers counterfeit goods.",
        "content_type": ["CONTENT_TYPE_PRODUCT"],
        "category": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "category_specification": ["KEYWORD_TRADEMARK_INFRINGEMENT"],
        "territorial_scope": ["DE", "FR"],
        "content_date": "2026-10-12",
        "application_date": "2026-10-13",
        "decision_facts": "Test buy 88121 showed a counterfeit.",
        "source_type": "SOURCE_ARTICLE_16",
        "automated_detection": "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": "ntd-d916d315-3557-5979-b6fd-90e525526e27-v2",
    }


BROKEN: dict[str, tuple[str, Any, str]] = {
    # failure mode: (field, value or None to drop it, what the rules say)
    "missing decision ground": ("decision_ground", None, "decision_ground: required"),
    "missing content type": ("content_type", None, "content_type: required"),
    "missing category": ("category", None, "category: required"),
    "missing territorial scope": ("territorial_scope", None, "territorial_scope: required"),
    "missing content date": ("content_date", None, "content_date: required"),
    "missing application date": ("application_date", None, "application_date: required"),
    "missing facts": ("decision_facts", None, "decision_facts: required"),
    "blank facts": ("decision_facts", "   ", "decision_facts: required"),
    "missing source type": ("source_type", None, "source_type: required"),
    "missing detection": ("automated_detection", None, "automated_detection: required"),
    "missing decision": ("automated_decision", None, "automated_decision: required"),
    "missing puid": ("puid", None, "puid: required"),
    "no restriction": ("decision_visibility", None, "one is required"),
    "illegal without legal ground": (
        "illegal_content_legal_ground",
        None,
        "illegal_content_legal_ground: required when",
    ),
    "illegal without explanation": (
        "illegal_content_explanation",
        None,
        "illegal_content_explanation: required when",
    ),
    "bad ground": ("decision_ground", "DECISION_GROUND_NOT_ILLEGAL", "decision_ground:"),
    "bad visibility": ("decision_visibility", ["DECISION_VISIBILITY_NONE"], "decision_visibility"),
    "bad category": ("category", "STATEMENT_CATEGORY_COUNTERFEIT", "category:"),
    "bad keyword": ("category_specification", ["KEYWORD_COUNTERFEIT"], "category_specification"),
    "bad content type": ("content_type", ["CONTENT_TYPE_LISTING"], "content_type"),
    "bad country": ("territorial_scope", ["DE", "US"], "territorial_scope"),
    "bad source": ("source_type", "SOURCE_NOTICE", "source_type:"),
    "bad detection": ("automated_detection", "maybe", "automated_detection:"),
    "bad decision": ("automated_decision", "No", "automated_decision:"),
    "legal ground too long": (
        "illegal_content_legal_ground",
        "x" * 501,
        "illegal_content_legal_ground: longer than 500",
    ),
    "explanation too long": (
        "illegal_content_explanation",
        "x" * 2001,
        "illegal_content_explanation: longer than 2000",
    ),
    "facts too long": ("decision_facts", "x" * 5001, "decision_facts: longer than 5000"),
    "puid too long": ("puid", "p" * 501, "puid: longer than 500"),
    "puid with a space": ("puid", "ntd case 1", "puid: only"),
    "puid with a slash": ("puid", "ntd/case/1", "puid: only"),
    "date with a time": ("application_date", "2026-10-13 10:00:00", "application_date: "),
    "date without zeros": ("application_date", "2026-1-3", "application_date: "),
    "impossible date": ("content_date", "2026-02-30", "content_date: "),
    "decision before 2020": ("application_date", "2019-12-31", "application_date: before"),
    "content before 2000": ("content_date", "1999-12-31", "content_date: before"),
    "decision after 2038": ("application_date", "2038-01-02", "application_date: after"),
    "restriction ends before it applies": (
        "end_date_visibility_restriction",
        "2026-10-12",
        "end_date_visibility_restriction: before",
    ),
    "unknown field": ("url", "https://shop.example/item/1", "url: not a field"),
}


@pytest.mark.fast
def test_the_valid_statement_passes(valid: dict[str, Any]) -> None:
    assert sor_rules.problems(valid) == []
    assert Statement.model_validate(valid).public() == valid


@pytest.mark.fast
@pytest.mark.parametrize("mode", list(BROKEN))
def test_the_rules_refuse_each_failure_mode(valid: dict[str, Any], mode: str) -> None:
    name, value, said = BROKEN[mode]
    statement = deepcopy(valid)
    if value is None:
        statement.pop(name)
    else:
        statement[name] = value
    assert any(said in problem for problem in sor_rules.problems(statement)), mode


NTD_FILLS = set(Statement.model_fields)


@pytest.mark.fast
@pytest.mark.parametrize("mode", [m for m, (name, *_) in BROKEN.items() if name in NTD_FILLS])
def test_the_exporters_model_refuses_what_the_rules_refuse(
    valid: dict[str, Any], mode: str
) -> None:
    """A decision ntd could not state validly is left out and named, never sent broken."""
    name, value, _ = BROKEN[mode]
    statement = deepcopy(valid)
    if value is None:
        statement.pop(name)
    else:
        statement[name] = value
    with pytest.raises(ValidationError):
        Statement.model_validate(statement)


@pytest.mark.fast
@pytest.mark.parametrize("size", [500, 501])
def test_a_text_at_its_limit_passes_and_one_more_character_does_not(
    valid: dict[str, Any], size: int
) -> None:
    statement = {**valid, "illegal_content_legal_ground": "é" * size}  # characters, not bytes
    assert (sor_rules.problems(statement) == []) is (size == 500)


@pytest.mark.fast
def test_a_batch_holds_one_to_a_hundred_statements_with_distinct_puids(
    valid: dict[str, Any],
) -> None:
    many = [{**valid, "puid": f"p-{n}"} for n in range(101)]
    assert sor_rules.batch_problems({"statements": many[:100]}) == []
    assert "101 given" in sor_rules.batch_problems({"statements": many})[0]
    assert sor_rules.batch_problems({"statements": []})
    twice = sor_rules.batch_problems({"statements": [valid, valid]})
    assert any("not all unique" in p for p in twice)


# -- decisions that cannot be stated ---------------------------------------------------------------


def _take_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str, *options: str) -> str:
    monkeypatch.setenv("NTD_NOW", when)
    notifier, right = brand_with_right(tmp_path, name=f"Brand {when[:4]}", admin=JEANNE)
    notice = notice_file(tmp_path, notifier, right)
    case = ok("notice", "file", "--json", str(notice), "--as", JEANNE, "-q").strip()
    ok("case", "take-down", case, "--facts", "Test buy: counterfeit", *options, "--as", ALICE)
    return case


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("NTD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NTD_DATA_DIR", str(tmp_path / "ntd"))
    monkeypatch.setenv("NTD_LOG_FORMAT", "json")
    return tmp_path / "ntd"


@pytest.mark.usefixtures("fresh", "staff")
def test_a_decision_before_2020_is_named_and_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _take_down(tmp_path, monkeypatch, "2019-06-03T10:00:00+00:00")
    new = _take_down(tmp_path, monkeypatch, "2026-06-03T10:00:00+00:00")
    result = run("statements", "--as", AUDREY)
    assert result.exit_code == 0, result.output
    exported = [json.loads(line) for line in result.stdout.splitlines()]
    assert [s["puid"] for s in exported] == [f"ntd-{new}-v2"]
    assert f"ntd-{old}-v2 left out" in result.stderr and "application_date" in result.stderr


@pytest.mark.usefixtures("fresh", "staff")
def test_a_takedown_outside_the_eea_is_named_and_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _take_down(tmp_path, monkeypatch, "2026-06-03T10:00:00+00:00", "--territory", "US")
    result = run("statements", "--as", AUDREY)
    assert result.exit_code == 0 and result.stdout == ""
    assert f"ntd-{case}-v2 left out" in result.stderr and "EEA" in result.stderr


@pytest.mark.usefixtures("fresh", "staff")
def test_a_limited_territory_keeps_its_eea_countries_and_dates_are_utc_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    when = "2026-06-03T23:30:00-02:00"
    _take_down(
        tmp_path,
        monkeypatch,
        when,
        *["--territory", "de", "--territory", "us", "--territory", "fr"],
    )
    (statement,) = export(who=AUDREY)
    assert statement["territorial_scope"] == ["DE", "FR"]
    assert statement["application_date"] == "2026-06-04"  # 01:30 UTC
    assert sor_rules.problems(statement) == []
    assert SELLER and SOFIA  # the cast the store was set up with


# -- --submit against a server that behaves like the database -------------------------------------


class Database(BaseHTTPRequestHandler):
    """The batch endpoint: the token, the rules, 422 with existing_puids for puids it holds
    (PuidNotUniqueMultipleException), 201 with the statements it created; `failing` answers
    500 that many times first."""

    held: ClassVar[set[str]] = set()
    failing: ClassVar[int] = 0
    calls: ClassVar[int] = 0
    reject: ClassVar[bool] = False

    def do_POST(self) -> None:
        type(self).calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"message": "Unauthenticated."})
        if type(self).failing > 0:
            type(self).failing -= 1
            return self._answer(500, {"message": "Server Error"})
        problems = sor_rules.batch_problems(body)
        if type(self).reject:
            problems.append("statement_1.decision_facts: refused by the test")
        if problems:
            errors: dict[str, dict[str, list[str]]] = {}
            for problem in problems:
                where, _, what = problem.partition(".")
                errors.setdefault(where, {}).setdefault("field", []).append(what)
            return self._answer(422, {"errors": errors})
        puids = [s["puid"] for s in body["statements"]]
        existing = [p for p in puids if p in self.held]
        if existing:
            message = "The platform identifier(s) are not all unique within this call."
            errors_ = {"puid": [message], "existing_puids": existing}
            return self._answer(422, {"message": message, "errors": errors_})
        self.held.update(puids)
        return self._answer(201, {"statements": body["statements"]})

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def database() -> Iterator[str]:
    Database.held, Database.failing, Database.calls, Database.reject = set(), 0, 0, False
    server = ThreadingHTTPServer(("127.0.0.1", 0), Database)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/statements"
    finally:
        server.shutdown()
        server.server_close()


def submit(url: str, *extra: str) -> Result:
    return run("statements", "--submit", url, "--token", TOKEN, "--backoff", "0.01", *extra,
               "--as", AUDITOR)  # fmt: skip


@pytest.mark.usefixtures("on_demo")
def test_submitting_sends_every_statement_once(database: str) -> None:
    count = len(export())
    first = submit(database)
    assert first.exit_code == 0, first.output
    assert f"{count:,} statements created, 0 already there" in first.stdout
    assert len(Database.held) == count
    again = submit(database)
    assert again.exit_code == 0, again.output
    assert f"0 statements created, {count:,} already there" in again.stdout


@pytest.mark.usefixtures("on_demo")
def test_a_partly_sent_export_sends_only_the_rest(database: str) -> None:
    statements = export()
    Database.held = {s["puid"] for s in statements[:150]}  # a run that stopped half way
    result = submit(database)
    assert result.exit_code == 0, result.output
    assert f"{len(statements) - 150:,} statements created, 150 already there" in result.stdout
    assert Database.held == {s["puid"] for s in statements}


@pytest.mark.usefixtures("on_demo")
def test_server_errors_are_retried_with_back_off(database: str) -> None:
    Database.failing = 3
    result = submit(database)
    assert result.exit_code == 0, result.output
    assert len(Database.held) == len(export())


@pytest.mark.usefixtures("on_demo")
def test_a_server_that_keeps_failing_is_one_error_line(database: str) -> None:
    Database.failing = 1000
    result = submit(database, "--retries", "2")
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "still failing after 3 attempts" in line and "500" in line
    assert Database.calls == 3 and not Database.held


@pytest.mark.usefixtures("on_demo")
def test_a_statement_the_database_refuses_is_named(database: str) -> None:
    Database.reject = True
    result = submit(database)
    assert result.exit_code == 1
    (line,) = error_lines(result)
    second = export()[1]["puid"]
    assert f"batch 1: answered 422: statement {second}" in line


@pytest.mark.usefixtures("on_demo")
def test_a_wrong_token_is_one_error_line(database: str) -> None:
    result = run("statements", "--submit", database, "--token", "wrong", "--as", AUDITOR)
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "refused the token (401" in line and "wrong" not in line


@pytest.mark.fast
@pytest.mark.parametrize(
    ("url", "token", "said"),
    [
        ("http://transparency.example/api/v1/statements", TOKEN, "not an https:// URL"),
        ("https://transparency.example/api/v1/statements", None, "needs --token"),
        ("https://[transparency.example/api", TOKEN, "is not a URL"),
    ],
)
def test_submitting_needs_https_and_a_token(url: str, token: str | None, said: str) -> None:
    args = ["statements", "--submit", url, "--as", AUDITOR]
    result = run(*args, *(("--token", token) if token else ()))
    assert result.exit_code == 2
    assert said in result.stderr
