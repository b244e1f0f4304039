"""`ntd policies what-if` over a small demo: under the rules in force the replay reproduces what
the policies did exactly, stricter rules change outcomes, `--since` starts them later, bad rules
are one usage error, only supervisors, admins and auditors may ask, and nothing is written."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from click.testing import CliRunner, Result

from domain.policies import SellerRecord, Standing
from domain.policy_commands import (
    AdmitToTrustedLane,
    RecordStrike,
    RemoveFromTrustedLane,
    SuspendSeller,
)
from domain.rules import Rules
from domain.values import Actor
from ntd.bootstrap import Ntd, build
from ntd.cli import cli
from ntd.config import Settings
from ntd.what_if import (
    BadRules,
    Outcome,
    Step,
    Verdict,
    WhatIf,
    proposed_rules,
    seller_verdict,
    standing_after,
    what_if,
)

SIZE, SEED, NOW = "0.05", "11", "2026-12-04T18:00:00Z"
"""About 2,400 events: the demo builds in about 8 s, a replay takes a tenth of a second."""
AUDITOR, SUPERVISOR, ADMIN = "agent:audit.kim", "agent:sofia.r", "agent:admin.ops"
BRAND_USER, SELLER_USER = "notifier_user:ingrid.s", "seller:urban-world-870@bazario"
STRICTER_STRIKES = '{"strikes_to_suspend": 2}'
STRICTER_LANE = '{"trusted_min_notices": 40}'


def invoke(data_dir: Path, *args: str, **more: str) -> Result:
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("NTD_")}
    env |= {"NTD_DATA_DIR": str(data_dir), "NTD_LOG_FORMAT": "json", **more}
    return CliRunner(env=env).invoke(cli, list(args))


def ask(data_dir: Path, *args: str, actor: str = AUDITOR) -> Result:
    return invoke(data_dir, "policies", "what-if", *args, "--as", actor)


def as_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("what-if")
    started = time.monotonic()
    # The demo's eight weeks end at NTD_NOW: a fixed end gives the same history every day.
    result = invoke(data_dir, "demo", "--size", SIZE, "--seed", SEED, NTD_NOW=NOW)
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 120, "the demo at size 0.05 takes about 8 s"
    return data_dir


@pytest.fixture(scope="module")
def store(demo: Path) -> Any:
    ntd: Ntd = build(Settings.from_env({"NTD_DATA_DIR": str(demo)}))
    yield ntd
    ntd.close()


def replayed(ntd: Ntd, text: str, **options: Any) -> WhatIf:
    rules = proposed_rules(ntd.app.rules, text)
    return what_if(ntd.app, rules, Actor.parse(AUDITOR), **options)


def digests(data_dir: Path) -> dict[str, str]:
    """Every store file's bytes, by name (SQLite's -wal and -shm files included, if any)."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(data_dir.iterdir())
        if path.is_file()
    }


# -- the same rules reproduce the history ---------------------------------------------------------


def test_replaying_under_the_rules_in_force_reproduces_every_outcome_exactly(store: Ntd) -> None:
    result = replayed(store, "{}")
    assert result.happened, "the demo's policies acted: strikes, suspensions, the trusted lane"
    assert {o.step for o in result.happened} >= {Step.STRIKE, Step.SELLER_SUSPENDED}
    assert result.would == result.happened  # the same steps, subjects, causes, moments and terms
    assert result.same and not result.sellers() and not result.notifiers()


def test_naming_the_values_in_force_changes_nothing(demo: Path) -> None:
    data = as_json(ask(demo, "--rules", '{"strikes_to_suspend": 3}', "--format", "json"))
    assert data["same"] is True
    assert data["rules"]["changed"] == {}
    assert data["sellers"] == [] and data["notifiers"] == []
    assert all(c["happened"] == c["what_if"] for c in data["counts"].values())


def test_the_table_says_nobody_would_have_fared_otherwise(demo: Path) -> None:
    result = ask(demo, "--rules", "{}")
    assert result.exit_code == 0, result.output
    assert "the rules in force (nothing changed)" in result.stdout
    assert "no seller or notifier would have fared otherwise" in result.stdout


# -- stricter rules: a different outcome ----------------------------------------------------------


def test_fewer_strikes_to_suspend_suspends_sellers_earlier_on_fewer_strikes(demo: Path) -> None:
    data = as_json(ask(demo, "--rules", STRICTER_STRIKES, "--format", "json"))
    assert data["same"] is False
    assert data["rules"]["changed"] == {"strikes_to_suspend": {"in_force": 3, "what_if": 2}}
    assert data["sellers"], "at least one seller fares otherwise"
    for seller in data["sellers"]:
        happened, would = seller["happened"], seller["what_if"]
        assert happened["suspensions"] != would["suspensions"] or (
            happened["strikes"] != would["strikes"]
        )
        if happened["suspensions"] and would["suspensions"]:
            assert would["suspensions"][0]["at"] <= happened["suspensions"][0]["at"]
    counts = data["counts"]
    assert counts["strike"]["what_if"] < counts["strike"]["happened"]  # suspended sooner


def test_a_higher_bar_for_the_trusted_lane_keeps_a_notifier_out_or_admits_it_later(
    demo: Path,
) -> None:
    data = as_json(ask(demo, "--rules", STRICTER_LANE, "--format", "json"))
    lane = [n for n in data["notifiers"] if n["step"] == "admitted_to_trusted_lane"]
    assert lane, "at least one notifier enters the lane otherwise"
    assert any(n["what_if"] is None or n["what_if"]["at"] > n["happened"]["at"] for n in lane)
    counts = data["counts"]["admitted_to_trusted_lane"]
    assert counts["what_if"] < counts["happened"]


def test_the_table_names_who_fares_otherwise_and_when(demo: Path) -> None:
    result = ask(demo, "--rules", STRICTER_LANE)
    assert result.exit_code == 0, result.output
    assert "trusted_min_notices 20 → 40" in result.stdout
    assert "would not have entered the trusted lane" in result.stdout or (
        "entered the trusted lane at another moment" in result.stdout
    )
    assert " UTC" in result.stdout.split("NOTIFIER")[1]  # when, to the minute


def test_a_looser_lane_admits_notifiers_that_were_never_admitted(store: Ntd) -> None:
    loose = '{"trusted_min_takedown_share": 0.8, "trusted_min_notices": 10}'
    result = replayed(store, loose)
    entered = [c for c in result.notifiers() if c.step is Step.ADMITTED and c.happened is None]
    assert entered and all(c.verdict == "would have entered the trusted lane" for c in entered)


# -- --since --------------------------------------------------------------------------------------


def test_since_applies_the_rules_from_then_and_shows_only_what_follows(store: Ntd) -> None:
    whole = replayed(store, STRICTER_STRIKES)
    first = min(_differences(whole), key=lambda o: o.at)
    since = first.at - timedelta(days=1)
    later = replayed(store, STRICTER_STRIKES, since=since)
    assert later.happened == tuple(o for o in whole.happened if o.at >= since)
    assert all(o.at >= since for o in later.would)
    assert not later.same


def test_since_after_the_last_event_changes_nothing(store: Ntd) -> None:
    whole = replayed(store, STRICTER_STRIKES)
    end = max(o.at for o in whole.happened) + timedelta(days=30)
    later = replayed(store, STRICTER_STRIKES, since=end)
    assert later.same and later.happened == () and later.would == ()


def test_since_in_the_middle_replays_the_rules_in_force_before_it(store: Ntd) -> None:
    whole = replayed(store, STRICTER_STRIKES)
    middle = min(_differences(whole), key=lambda o: o.at).at + timedelta(days=3)
    from_middle = replayed(store, STRICTER_STRIKES, since=middle)
    # Before `middle` the stricter rule did not apply: a seller it suspended early in the whole
    # replay is not suspended early in this one.
    assert from_middle.would != tuple(o for o in whole.would if o.at >= middle)


def test_since_on_the_command_line(demo: Path) -> None:
    data = as_json(
        ask(
            demo, "--rules", STRICTER_STRIKES, "--since", "2099-01-01T00:00:00Z", "--format", "json"
        )
    )
    assert data["since"].startswith("2099-01-01")
    assert data["same"] is True and data["sellers"] == []


def _differences(result: WhatIf) -> list[Outcome]:
    happened = {o.identity for o in result.happened}
    would = {o.identity for o in result.would}
    return [o for o in result.happened if o.identity not in would] + [
        o for o in result.would if o.identity not in happened
    ]


# -- bad rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        ("{strikes: 2", "not JSON"),
        ("[2]", "JSON object of rule names"),
        ('{"strikes_to_suspnd": 2}', "strikes_to_suspnd"),
        ('{"strikes_to_suspend": 0}', "strikes_to_suspend"),
        ('{"strike_lifetime_days": 99999999}', "strike_lifetime_days"),
        ('{"trusted_min_takedown_share": "lots"}', "trusted_min_takedown_share"),
    ],
)
def test_bad_rules_are_one_usage_error_naming_the_problem(
    demo: Path, rules: str, says: str
) -> None:
    result = ask(demo, "--rules", rules)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("ntd: error:")]
    assert len(errors) == 1 and "--rules" in errors[0] and says in errors[0], result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def test_the_rules_not_named_keep_the_values_in_force() -> None:
    now = Rules(strikes_to_suspend=5, trusted_min_notices=7)
    rules = proposed_rules(now, '{"trusted_min_notices": 30}')
    assert (rules.strikes_to_suspend, rules.trusted_min_notices) == (5, 30)
    with pytest.raises(BadRules):
        proposed_rules(now, '{"strikes_to_suspend": -1}')


# -- who may ask ----------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", [AUDITOR, SUPERVISOR, ADMIN])
def test_supervisors_admins_and_auditors_may_ask(demo: Path, actor: str) -> None:
    assert ask(demo, "--rules", "{}", actor=actor).exit_code == 0


@pytest.mark.parametrize("actor", [BRAND_USER, SELLER_USER, "agent:nobody"])
def test_parties_and_strangers_may_not(demo: Path, actor: str) -> None:
    result = ask(demo, "--rules", STRICTER_STRIKES, actor=actor)
    assert result.exit_code == 1, result.output
    assert result.stdout == "" and result.stderr.startswith("ntd: error:"), result.stderr


# -- nothing is written ---------------------------------------------------------------------------


def test_a_what_if_leaves_both_stores_unchanged_byte_for_byte(demo: Path) -> None:
    before = digests(demo)
    assert {"events.db", "read.db"} <= before.keys()
    for rules in ("{}", STRICTER_STRIKES, STRICTER_LANE):
        for fmt in ("table", "json"):
            assert ask(demo, "--rules", rules, "--format", fmt).exit_code == 0
    assert ask(demo, "--rules", STRICTER_STRIKES, "--since", "2026-11-01").exit_code == 0
    assert digests(demo) == before


# -- progress and the aggregates' guards ----------------------------------------------------------


def test_a_replay_reports_its_progress_to_the_end_of_the_log(store: Ntd) -> None:
    ticks: list[tuple[int, int]] = []
    rules = proposed_rules(store.app.rules, "{}")
    what_if(
        store.app, rules, Actor.parse(AUDITOR), progress=lambda *t: ticks.append(t), page_size=300
    )
    assert len(ticks) > 2
    assert [done for done, _ in ticks] == sorted(done for done, _ in ticks)
    last = store.app.recorder.max_notification_id()
    assert ticks[-1] == (last, last)


AT = datetime(2026, 11, 2, 12, tzinfo=UTC)
NOTIFIER, SELLER, CASE = uuid4(), uuid4(), uuid4()


def test_a_notifier_may_not_reenter_the_lane_before_its_reapply_date() -> None:
    admit = AdmitToTrustedLane(NOTIFIER, 0.95, 0.0, 25, "x:1")
    waiting = Standing(NOTIFIER, may_reapply_on=(AT + timedelta(days=1)).date())
    assert standing_after(admit, waiting, AT, Rules()) is None
    admitted = standing_after(admit, replace(waiting, may_reapply_on=AT.date()), AT, Rules())
    assert admitted is not None and admitted.in_lane and admitted.may_reapply_on is None


def test_a_removal_sets_the_reapply_date_by_the_rules() -> None:
    remove = RemoveFromTrustedLane(NOTIFIER, "shares", "x:2")
    after = standing_after(
        remove, Standing(NOTIFIER, in_lane=True), AT, Rules(trusted_reapply_days=7)
    )
    assert after is not None and after.may_reapply_on == (AT + timedelta(days=7)).date()
    assert standing_after(remove, Standing(NOTIFIER), AT, Rules()) is None  # not in the lane


def test_a_suspended_seller_is_not_suspended_again_and_too_few_strikes_suspend_none() -> None:
    until = AT + timedelta(days=180)
    suspend = SuspendSeller(SELLER, "strikes", 3, "x:3", until)
    struck = SellerRecord(SELLER, strikes={uuid4(): until for _ in range(3)})
    assert seller_verdict(suspend, struck, AT, Rules()) is Verdict.DONE
    assert seller_verdict(suspend, struck, AT, Rules(strikes_to_suspend=4)) is Verdict.REFUSED
    running = struck.with_suspension("y:1", until)
    assert seller_verdict(suspend, running, AT, Rules()) is Verdict.REFUSED


def test_a_strike_already_given_for_the_case_is_already_done() -> None:
    strike = RecordStrike("m", "s", CASE, AT, AT + timedelta(days=365), "x:4")
    given = SellerRecord(SELLER).with_strike(CASE, AT + timedelta(days=365))
    assert seller_verdict(strike, given, AT, Rules()) is Verdict.ALREADY
    assert seller_verdict(strike, SellerRecord(SELLER), AT, Rules()) is Verdict.DONE
