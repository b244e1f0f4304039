"""`ntd demo` end to end at a small size: its dashboards agree with figures recomputed by hand
from the stored events, its suggestions are real commands, and a seed always gives the same ids."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner, Result

from domain.case import Case, Deadline
from domain.notifier import Notifier
from domain.values import SYSTEM
from ntd.bootstrap import Ntd, build
from ntd.cli import cli
from ntd.config import Settings

SIZE, SEED = "0.1", "11"


def invoke(data_dir: Path, *args: str) -> Result:
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("NTD_")}
    env |= {"NTD_DATA_DIR": str(data_dir), "NTD_LOG_FORMAT": "json"}
    result = CliRunner(env=env).invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def open_store(data_dir: Path) -> Ntd:
    return build(Settings.from_env({"NTD_DATA_DIR": str(data_dir)}))


@dataclass
class Demo:
    data_dir: Path
    result: Result

    @property
    def out(self) -> str:
        return self.result.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    data_dir = tmp_path_factory.mktemp("demo")
    result = invoke(data_dir, "demo", "--size", SIZE, "--seed", SEED)
    assert result.exit_code == 0, result.output
    return Demo(data_dir, result)


# -- independent figures -----------------------------------------------------------------------


@dataclass
class Tracked:
    notifier_id: UUID
    filed_at: datetime
    seller: tuple[str, str]
    taken_at: datetime | None = None
    declined: bool = False
    countered: bool = False
    reversed: bool = False
    withdrawn: bool = False


@dataclass
class Book:
    """Per notifier, what the stored events say, counted plainly."""

    cases: dict[UUID, Tracked] = field(default_factory=dict)
    breaches: dict[UUID, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    names: dict[UUID, str] = field(default_factory=dict)
    lane_changes: Counter[str] = field(default_factory=Counter)
    last_at: datetime | None = None
    """When the last stored event happened: the dashboards are as of a moment."""


def stored_events(ntd: Ntd) -> Iterator[Any]:
    start = 1
    while page := ntd.app.recorder.select_notifications(start=start, limit=500):
        for notification in page:
            yield ntd.app.mapper.to_domain_event(notification)
        start = page[-1].id + 1


def read_book(ntd: Ntd) -> Book:
    book = Book()
    for e in stored_events(ntd):
        book.last_at = max(book.last_at or e.timestamp, e.timestamp)
        case = book.cases.get(e.originator_id)
        if isinstance(e, Case.Filed):
            book.cases[e.originator_id] = Tracked(
                e.notifier_id, e.timestamp, (e.listing.seller_id, e.listing.marketplace)
            )
        elif isinstance(e, Case.TakenDown):
            assert case is not None
            case.taken_at = case.taken_at or e.timestamp
        elif isinstance(e, Case.Declined):
            assert case is not None
            case.declined = True
        elif isinstance(e, Case.CounterNoticed):
            assert case is not None
            case.countered = True
        elif isinstance(e, Case.TakedownReversed | Case.AppealUpheld):
            assert case is not None
            case.reversed = True
        elif isinstance(e, Case.Withdrawn):
            assert case is not None
            case.withdrawn = True
        elif isinstance(e, Case.DeadlineMissed):
            assert case is not None
            book.breaches[case.notifier_id][e.deadline.value] += 1
            if e.deadline is Deadline.RESTORATION:
                case.reversed = True
        elif isinstance(e, Notifier.Registered):
            book.names[e.originator_id] = e.name
        elif isinstance(e, Notifier.AdmittedToTrustedLane | Notifier.RemovedFromTrustedLane):
            book.lane_changes[type(e).__name__] += 1
    return book


def nearest_rank(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1] if ordered else None


def expected_figures(book: Book, notifier_id: UUID) -> dict[str, Any]:
    mine = [c for c in book.cases.values() if c.notifier_id == notifier_id]
    taken = [c for c in mine if c.taken_at is not None]
    reversed_ = [c for c in taken if c.reversed]
    declined = [c for c in mine if c.declined]
    decided = len(taken) + len(declined)
    hours = [
        (c.taken_at - c.filed_at).total_seconds() / 3600 for c in taken if c.taken_at is not None
    ]
    per_seller = Counter(c.seller for c in taken if not c.reversed)
    top = sorted(per_seller.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0]))[:5]
    return {
        "cases": len(mine),
        "decided": decided,
        "taken_down": len(taken),
        "declined": len(declined),
        "reversed": len(reversed_),
        "counter_noticed": sum(c.countered for c in taken),
        "withdrawn": sum(c.withdrawn for c in mine),
        "takedown_rate": (len(taken) - len(reversed_)) / decided if decided else None,
        "decline_rate": len(declined) / decided if decided else None,
        "counter_notice_rate": sum(c.countered for c in taken) / len(taken) if taken else None,
        "reversal_rate": len(reversed_) / len(taken) if taken else None,
        "time_to_takedown_p50_hours": nearest_rank(hours, 0.5),
        "time_to_takedown_p90_hours": nearest_rank(hours, 0.9),
        "breaches": dict(book.breaches[notifier_id]),
        "top_sellers": [(seller, market, n) for (seller, market), n in top],
    }


def actual_figures(board: Any) -> dict[str, Any]:
    figures = board.model_dump(mode="json")
    figures["top_sellers"] = [(s.seller_id, s.marketplace, s.takedowns) for s in board.top_sellers]
    return figures


def same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
    return bool(expected == actual)


@pytest.fixture(scope="module")
def book(demo: Demo) -> Book:
    ntd = open_store(demo.data_dir)
    try:
        return read_book(ntd)
    finally:
        ntd.close()


# -- what the run printed ----------------------------------------------------------------------

UUID_TEXT = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def tried(demo: Demo, command: str) -> str:
    """The id a `Try next:` suggestion names."""
    match = re.search(rf"^  ntd {command} ({UUID_TEXT})", demo.out, re.MULTILINE)
    assert match, f"no suggestion `ntd {command} …` in the demo's output"
    return match.group(1)


def suggested(demo: Demo, command: str) -> list[str]:
    """The arguments of the `Try next` suggestion that starts `ntd {command}`, its --as too."""
    match = re.search(rf"^  ntd ({re.escape(command)} [^#\n]*?)\s*#", demo.out, re.MULTILINE)
    assert match, f"no suggestion `ntd {command} …` in the demo's output"
    args = shlex.split(match.group(1))
    assert "--as" in args, f"`ntd {command}` is suggested without --as"
    return args


def section(demo: Demo, title: str) -> str:
    """The lines of one `== title ==` section of the report."""
    part = demo.out.split(f"== {title} ==", 1)[1]
    return part.split("\n== ", 1)[0].split("\nTry next", 1)[0]


def event_count(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "events.db") as db:
        (count,) = db.execute("SELECT count(*) FROM stored_events").fetchone()
    db.close()
    return int(count)


def test_the_demo_reports_dashboards_an_audit_excerpt_and_what_to_try(demo: Demo) -> None:
    for part in (
        "Built in",
        "== Busiest brand ==",
        "== A trusted-lane brand ==",
        "== Audit trail of case",
        "Try next",
        "ntd access list --as agent:admin.ops",
        "ntd audit verify --as ",
        "ntd deadlines run --dry-run --as agent:admin.ops",
        "refused: a seller may not take down cases",
    ):
        assert part in demo.out
    assert "week 1/8" in demo.result.stderr and "events/s" in demo.result.stderr


def test_every_dashboard_matches_figures_recomputed_from_the_stored_events(
    demo: Demo, book: Book
) -> None:
    ntd = open_store(demo.data_dir)
    try:
        ntd.catch_up()
        now = book.last_at  # every figure is as of a moment: after the last event
        assert now is not None
        for notifier_id, name in book.names.items():
            board = ntd.read_store.dashboard(notifier_id, now, ntd.app.rules)
            expected, actual = expected_figures(book, notifier_id), actual_figures(board)
            wrong = {
                key: (value, actual[key])
                for key, value in expected.items()
                if not same(value, actual[key])
            }
            assert not wrong, f"{name}: (recomputed, dashboard) differ: {wrong}"
            states = Counter(
                ntd.app.case(cid, SYSTEM).state.value
                for cid, c in book.cases.items()
                if c.notifier_id == notifier_id
            )
            assert {k.value: v for k, v in board.cases_by_state.items() if v} == dict(states)
    finally:
        ntd.close()


def test_the_printed_busiest_dashboard_shows_the_recomputed_figures(demo: Demo, book: Book) -> None:
    busiest = tried(demo, "dashboard --brand")
    expected = expected_figures(book, UUID(busiest))
    text = section(demo, "Busiest brand")
    assert busiest in text.splitlines()[1] or busiest in text
    for label, key in (
        ("taken down", "taken_down"),
        ("declined", "declined"),
        ("counter-noticed", "counter_noticed"),
        ("reversed", "reversed"),
        ("decided", "decided"),
    ):
        assert re.search(rf"^  {label} +{expected[key]:,}\b", text, re.MULTILINE), label
    p50 = expected["time_to_takedown_p50_hours"]
    assert f"p50 {p50:.1f} h" in text


def test_the_busiest_brand_has_every_figure_the_data_supports(demo: Demo, book: Book) -> None:
    busiest = UUID(tried(demo, "dashboard --brand"))
    counts = Counter(c.notifier_id for c in book.cases.values())
    assert counts[busiest] == max(counts.values())
    figures = expected_figures(book, busiest)
    for key in (
        "taken_down",
        "declined",
        "counter_noticed",
        "reversed",
        "time_to_takedown_p50_hours",
        "time_to_takedown_p90_hours",
    ):
        assert figures[key], key
    assert sum(figures["breaches"].values()) > 0
    assert figures["top_sellers"]


def test_the_run_admits_brands_to_the_trusted_lane_and_removes_one(book: Book) -> None:
    assert book.lane_changes["AdmittedToTrustedLane"] >= 2
    assert book.lane_changes["RemovedFromTrustedLane"] >= 1


def test_the_suggested_commands_work_on_the_suggested_ids(demo: Demo) -> None:
    case = tried(demo, "case show")
    shown = invoke(demo.data_dir, *suggested(demo, "case show"))
    assert shown.exit_code == 0 and "timeline" in shown.stdout, shown.output
    assert "reinstated" in shown.stdout.splitlines()[0] and case in shown.stdout.splitlines()[0]
    before = invoke(demo.data_dir, *suggested(demo, "case history"))
    assert before.exit_code == 0, before.output
    assert "filed  (normal lane, version 1)" in before.stdout
    assert "taken_down" not in before.stdout
    verified = invoke(demo.data_dir, *suggested(demo, "audit verify"))
    assert verified.exit_code == 0 and "intact" in verified.stdout, verified.output
    dry = invoke(demo.data_dir, *suggested(demo, "deadlines run"))
    assert dry.exit_code == 0 and "nothing fired" in dry.stdout, dry.output
    board = invoke(demo.data_dir, *suggested(demo, "dashboard"))
    assert board.exit_code == 0 and tried(demo, "dashboard --brand") in board.stdout, board.output
    audit = invoke(demo.data_dir, *suggested(demo, "audit query"))
    assert audit.exit_code == 0, audit.output
    assert [line.split()[8] for line in audit.stdout.splitlines()[1:]][:4] == [
        "filed",
        "taken_down",
        "seller_notified",
        "counter_noticed",
    ]


def test_the_demo_names_its_first_admin_and_grants_its_cast(demo: Demo) -> None:
    listed = invoke(demo.data_dir, *suggested(demo, "access list"), "--json")
    assert listed.exit_code == 0, listed.output
    held = {(g["principal"], g["grant"]["role"]) for g in json.loads(listed.stdout)}
    assert ("agent:admin.ops", "admin") in held
    roles = {role for _, role in held}
    for role in ("agent", "supervisor", "auditor", "notifier_admin", "seller_user"):
        assert role in roles, role
    again = invoke(demo.data_dir, "access", "init", "agent:mallory")
    assert again.exit_code == 1 and "already has its first admin" in again.stderr


def test_the_suggested_take_down_by_a_seller_is_refused_and_changes_nothing(demo: Demo) -> None:
    args = suggested(demo, "case take-down")
    case, seller = args[2], args[args.index("--as") + 1]
    assert case == tried(demo, "case show") and seller.startswith("seller:")
    before = event_count(demo.data_dir)
    refused = invoke(demo.data_dir, *args)
    assert refused.exit_code == 1 and refused.stdout == ""
    lines = [line for line in refused.stderr.splitlines() if line.startswith("ntd: error:")]
    assert len(lines) == 1 and f"{seller} may not take down cases" in lines[0], lines
    assert event_count(demo.data_dir) == before
    shown = invoke(demo.data_dir, *suggested(demo, "case show"))
    assert "reinstated" in shown.stdout.splitlines()[0]


def test_the_demo_refuses_a_store_that_already_holds_events(demo: Demo) -> None:
    again = invoke(demo.data_dir, "demo", "--size", SIZE, "--seed", SEED)
    assert again.exit_code == 1
    assert again.stderr.startswith("ntd: error:") and "--fresh" in again.stderr


def case_ids(data_dir: Path) -> set[UUID]:
    ntd = open_store(data_dir)
    try:
        return {e.originator_id for e in stored_events(ntd) if isinstance(e, Case.Filed)}
    finally:
        ntd.close()


def test_the_same_seed_gives_the_same_case_ids_and_fresh_starts_over(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert invoke(first, "demo", "--size", "0.05", "--seed", "5").exit_code == 0
    assert invoke(second, "demo", "--size", "0.05", "--seed", "5").exit_code == 0
    ids = case_ids(first)
    assert ids and ids == case_ids(second)
    fresh = invoke(first, "demo", "--size", "0.05", "--seed", "6", "--fresh")
    assert fresh.exit_code == 0
    assert f"deleted {first / 'events.db'}" in fresh.stderr
    assert case_ids(first).isdisjoint(ids)
