"""The ReadStore contract, run once per adapter against a seeded history of the real application."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.case import Authenticity, Case, Deadline, Lane, Step
from domain.catalog import aggregate_type, event_type
from domain.mapping import event_payload
from domain.notifier import Notifier, NotifierKind
from domain.rules import Rules
from domain.values import DomainEvent
from projections import AuditQuery, ProjectionError, ReadStore, catch_up
from projections.audit import AuditRecord, row_hash
from projections.models import CaseQuery
from tests.unit.dashboard_oracle import dashboard_from_events
from tests.unit.projection_fixtures import (
    ADAPTERS,
    ALICE,
    BOB,
    MARIA,
    Adapter,
    History,
    adapter_for,
    build_history,
    opened,
    reasons,
    reporter,
)

pytestmark = pytest.mark.fast

SEED = 8
"""Chosen so that the history exercises every figure (see the test that says so)."""


@pytest.fixture(scope="module")
def history() -> History:
    return build_history(SEED)


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Adapter:
    return adapter_for(request.param, tmp_path)


@pytest.fixture
def empty(adapter: Adapter) -> Iterator[ReadStore]:
    yield from opened(adapter)


@pytest.fixture
def store(empty: ReadStore, history: History) -> ReadStore:
    """A store of its own, caught up: for tests that change or tamper with it."""
    catch_up(history.app, empty)
    return empty


@pytest.fixture(scope="module", params=ADAPTERS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, history: History
) -> Iterator[ReadStore]:
    """One caught-up store per adapter for the tests that only read."""
    adapter = adapter_for(request.param, tmp_path_factory.mktemp("shared"))
    for store in opened(adapter):
        catch_up(history.app, store)
        yield store


# -- the independent computation ---------------------------------------------------------------


def expected_dashboard(
    history: History, notifier_id: UUID, now: datetime, rules: Rules
) -> dict[str, Any]:
    """The dashboard's figures worked out plainly from the raw events and the case aggregates."""
    events = [event for _, event in history.events()]
    in_lane = history.app.notifier(notifier_id, ALICE).in_trusted_lane
    return dashboard_from_events(events, notifier_id, now, rules, history.case, in_lane)


def assert_same_figures(actual: dict[str, Any], expected: dict[str, Any], path: str = "") -> None:
    """Equal figure by figure (the expected ones; in the sections the oracle names too);
    shares and hours to within float rounding."""
    for key, value in expected.items():
        name = f"{path}{key}"
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value), name
        elif isinstance(value, dict) and isinstance(actual[key], dict) and key not in PLAIN:
            assert_same_figures(actual[key], value, f"{name}.")
        else:
            assert actual[key] == value, name


PLAIN = {"cases_by_state", "filed_per_day", "open_deadlines", "breaches", "verdicts"}
"""Figures that are mappings compared whole: no key may be missing or extra."""


def published(history: History) -> list[tuple[int, DomainEvent]]:
    """The events that belong in the audit trail."""
    return [(seq, e) for seq, e in history.events() if aggregate_type(type(e)) is not None]


def everything(store: ReadStore, history: History) -> Any:
    """All a store answers about the history, for before/after comparisons."""
    rules = Rules()
    return (
        store.position(),
        list(store.audit_query(AuditQuery())),
        store.notifiers(),
        [store.dashboard(n, history.clock.now(), rules) for n, _ in history.notifiers.values()],
        store.due_deadlines(history.clock.now() + timedelta(days=3650)),
        [store.case(c) for c in history.case_ids],
        store.case_list(CaseQuery(viewer=str(MARIA), limit=10**6)),
        store.queue(CaseQuery(viewer=str(BOB), limit=10**6)),
        [store.needs_action(None, str(reporter(name))) for name in history.notifiers],
    )


# -- dashboard ---------------------------------------------------------------------------------

RULES = (Rules(), Rules(trusted_window_days=30, trusted_min_notices=5))


@pytest.mark.parametrize("rules", RULES, ids=("default-rules", "30-day-window"))
@pytest.mark.parametrize("days_before_end", (0, 70))
def test_dashboard_figures_equal_those_computed_from_the_raw_events(
    shared: ReadStore, history: History, rules: Rules, days_before_end: int
) -> None:
    now = history.clock.now() - timedelta(days=days_before_end)
    for name, (notifier_id, _) in history.notifiers.items():
        dashboard = shared.dashboard(notifier_id, now, rules).model_dump()
        expected = expected_dashboard(history, notifier_id, now, rules)
        trusted = dashboard.pop("trusted")
        expected_trusted = expected.pop("trusted")
        assert dashboard["name"] == name
        assert_same_figures(dashboard, expected)
        assert_same_figures(trusted, expected_trusted)
        assert trusted["window_start"] == now - timedelta(days=rules.trusted_window_days)
        assert trusted["min_notices"] == rules.trusted_min_notices


def test_the_history_exercises_every_dashboard_figure(history: History) -> None:
    figures = [
        expected_dashboard(history, n, history.clock.now(), Rules())
        for n, _ in history.notifiers.values()
    ]
    assert all(f["reversed"] and f["counter_noticed"] and f["declined"] for f in figures)
    assert {k for f in figures for k in f["breaches"]} == set(Deadline)
    assert {k for f in figures for k in f["open_deadlines"]} == set(Deadline)
    # some decided notices are settled and some still open to a counter-notice
    assert any(0 < f["trusted"]["settled"] < f["trusted"]["decided"] for f in figures)
    lenient = Rules(trusted_min_notices=8)  # the history's brands settle few of their notices
    assert {
        expected_dashboard(history, n, history.clock.now(), rules)["trusted"]["qualifies"]
        for n, _ in history.notifiers.values()
        for rules in (Rules(), lenient)
    } == {True, False}
    assert {f["trusted"]["in_trusted_lane"] for f in figures} == {True, False}
    identified = [f["identification"] for f in figures]
    assert all(i["requested"] for i in identified)
    assert any(i["answered"] for i in identified) and any(i["lapsed"] for i in identified)
    assert {v for i in identified for v in i["verdicts"]} == set(Authenticity)
    assert any(i["open"] for i in identified)
    assert any(f["notices"] < f["cases"] for f in figures)  # some notices name several listings
    needs = [f["needs_action"] for f in figures]
    assert all(
        n["clarifications"] + n["identifications"] + n["forwarded_counter_notices"] for n in needs
    )


def test_dashboard_of_an_unknown_notifier_is_empty_and_nameless(
    shared: ReadStore, history: History
) -> None:
    dashboard = shared.dashboard(uuid4(), history.clock.now(), Rules())
    assert dashboard.name is None
    assert dashboard.cases == 0
    assert dashboard.takedown_rate is None
    assert dashboard.time_to_takedown_p50_hours is None
    assert dashboard.top_sellers == ()
    assert not dashboard.trusted.qualifies


def test_notifiers_are_listed_with_their_lane_and_case_count_most_cases_first(
    shared: ReadStore, history: History
) -> None:
    filed = Counter(e.notifier_id for _, e in history.events() if isinstance(e, Case.Filed))
    expected = sorted(
        (
            (filed[n], name, history.app.notifier(n, ALICE).in_trusted_lane)
            for name, (n, _) in history.notifiers.items()
        ),
        key=lambda row: -row[0],
    )
    listed = [(s.cases, s.name, s.in_trusted_lane) for s in shared.notifiers()]
    assert listed == expected


def test_each_case_summary_matches_the_case_aggregate(shared: ReadStore, history: History) -> None:
    for case_id in history.case_ids:
        case, summary = history.case(case_id), shared.case(case_id)
        assert summary is not None
        assert (summary.state, summary.deadlines) == (case.state, case.deadlines)
        assert (summary.notice_id, summary.notifier_id, summary.lane) == (
            case.notice_id,
            case.notifier_id,
            case.lane,
        )
        assert summary.taken_down_at == case.taken_down_at
        assert summary.counter_noticed == case.counter_noticed
        answered = case.identification
        assert summary.identification_verdict == (answered.verdict if answered else None)
        assert summary.identification_answered_at == (answered.answered_at if answered else None)
    assert shared.case(uuid4()) is None


# -- position and redelivery -------------------------------------------------------------------


def test_reapplying_already_applied_batches_changes_nothing(
    store: ReadStore, history: History
) -> None:
    before = everything(store, history)
    events = history.events()
    store.apply(events[-300:])
    store.apply(events[100:400])
    store.apply(events)
    assert everything(store, history) == before


def test_a_batch_straddling_the_position_applies_only_what_is_new(
    empty: ReadStore, history: History, adapter: Adapter, tmp_path: Path
) -> None:
    events = history.events()
    empty.apply(events[:1000])
    empty.apply(events[900:1500])
    empty.apply(list(reversed(events[1400:])))  # order within a batch does not matter
    assert empty.position() == history.last_id()
    reference = adapter_for("memory", tmp_path).open()
    reference.apply(events)
    assert everything(empty, history) == everything(reference, history)


def test_position_is_the_last_notification_even_an_internal_one(
    empty: ReadStore, history: History
) -> None:
    events = history.events()
    last_internal = max(
        index for index, (_, e) in enumerate(events) if aggregate_type(type(e)) is None
    )
    empty.apply(events[: last_internal + 1])
    assert empty.position() == events[last_internal][0]
    assert empty.position() > max(row.seq for row in empty.audit_query(AuditQuery()))


def test_catching_up_in_small_pages_gives_the_same_store(
    empty: ReadStore, history: History, tmp_path: Path
) -> None:
    applied = catch_up(history.app, empty, page_size=7)
    assert applied == history.last_id()
    reference = adapter_for("memory", tmp_path).open()
    catch_up(history.app, reference)
    assert everything(empty, history) == everything(reference, history)


def test_a_batch_that_fails_part_way_leaves_nothing_behind(
    store: ReadStore, history: History
) -> None:
    before = everything(store, history)
    at = history.clock.now()
    declined = next(c for c in history.case_ids if history.case(c).state == "declined")
    newcomer = Notifier.Registered(
        originator_id=uuid4(),
        originator_version=1,
        originator_topic="domain.notifier:Notifier",
        timestamp=at,
        actor=ALICE,
        name="Hooli",
        kind=NotifierKind.BRAND,
        contact_email="legal@hooli.example",
    )
    impossible = Case.TakenDown(  # the next version, but no step leads from declined to it
        originator_id=declined,
        originator_version=history.case(declined).version + 1,
        timestamp=at,
        actor=ALICE,
        step=Step.TAKE_DOWN,
        lane=Lane.NORMAL,
        reasons=reasons(),
    )
    position = store.position()
    with pytest.raises(ProjectionError, match="declined"):
        store.apply([(position + 1, newcomer), (position + 2, impossible)])
    assert everything(store, history) == before


# -- audit trail -------------------------------------------------------------------------------


def test_the_audit_trail_has_one_row_per_published_event_in_notification_order(
    shared: ReadStore, history: History
) -> None:
    rows = list(shared.audit_query(AuditQuery()))
    expected = published(history)
    assert [row.seq for row in rows] == [seq for seq, _ in expected]
    for row, (_, event) in zip(rows, expected, strict=True):
        assert row.event_id == f"{event.originator_id}:{event.originator_version}"
        assert (row.aggregate_id, row.version) == (event.originator_id, event.originator_version)
        assert row.aggregate_type == aggregate_type(type(event))
        assert row.event_type == event_type(type(event))
        assert row.actor == str(event.actor)
        assert row.occurred_at == event.timestamp
        assert row.payload == event_payload(event).decode()
        has_reasons = getattr(event, "reasons", None) is not None
        assert (row.reasons is not None) == has_reasons


def test_audit_rows_of_cases_and_sellers_name_their_parties(
    shared: ReadStore, history: History
) -> None:
    filed = {e.originator_id: e for _, e in history.events() if isinstance(e, Case.Filed)}
    rows = list(shared.audit_query(AuditQuery()))
    for row in rows:
        if row.aggregate_type == "case":
            f = filed[row.aggregate_id]
            assert (row.notice_id, row.notifier_id, row.seller_id) == (
                f.notice_id,
                f.notifier_id,
                f.listing.seller_id,
            )
        elif row.aggregate_type == "notifier":
            assert (row.notice_id, row.notifier_id, row.seller_id) == (None, row.aggregate_id, None)
        else:
            assert row.seller_id is not None and row.notifier_id is None
    assert {r.aggregate_type for r in rows} == {"case", "notifier", "seller"}


def test_audit_queries_filter_by_each_field_and_their_combination(
    shared: ReadStore, history: History
) -> None:
    rows = list(shared.audit_query(AuditQuery()))
    case_id = history.case_ids[5]
    some = rows[len(rows) // 2]
    middle = rows[len(rows) // 3].occurred_at
    later = rows[2 * len(rows) // 3].occurred_at
    acme = history.notifiers["Acme"][0]
    queries = {
        AuditQuery(case_id=case_id): lambda r: r.aggregate_id == case_id,
        AuditQuery(notice_id=some.notice_id): lambda r: r.notice_id == some.notice_id,
        AuditQuery(notifier_id=acme): lambda r: r.notifier_id == acme,
        AuditQuery(seller_id="s-03"): lambda r: r.seller_id == "s-03",
        AuditQuery(actor="agent:bob"): lambda r: r.actor == "agent:bob",
        AuditQuery(event_type="taken_down"): lambda r: r.event_type == "taken_down",
        AuditQuery(since=middle, until=later): lambda r: middle <= r.occurred_at < later,
        AuditQuery(notifier_id=acme, event_type="declined", since=middle): (
            lambda r: (
                r.notifier_id == acme and r.event_type == "declined" and r.occurred_at >= middle
            )
        ),
    }
    for query, wanted in queries.items():
        expected = [r for r in rows if wanted(r)]
        assert expected, query
        assert list(shared.audit_query(query)) == expected, query


def test_an_untouched_audit_trail_verifies(shared: ReadStore, history: History) -> None:
    result = shared.verify_audit()
    events = published(history)
    assert result.ok and result.first_broken is None
    assert result.rows == len(events)
    assert result.chains == len({e.originator_id for _, e in events})


def test_exported_rows_can_be_rechecked_with_sha256_alone(shared: ReadStore) -> None:
    exported = [row.model_dump(mode="json") for row in shared.audit_query(AuditQuery())]
    last: dict[str, str] = {}
    for row in exported:
        content = {k: v for k, v in row.items() if k not in ("prev_hash", "hash")}
        body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert row["prev_hash"] == last.get(row["aggregate_id"], "0" * 64)
        assert row["hash"] == hashlib.sha256((row["prev_hash"] + body).encode()).hexdigest()
        last[row["aggregate_id"]] = row["hash"]


def chain_rows(store: ReadStore, length: int) -> list[Any]:
    """The rows of the first case chain with at least `length` rows."""
    by_case: dict[UUID, list[Any]] = defaultdict(list)
    for row in store.audit_query(AuditQuery()):
        if row.aggregate_type == "case":
            by_case[row.aggregate_id].append(row)
    return next(rows for rows in by_case.values() if len(rows) >= length)


def test_verify_finds_an_edited_row(store: ReadStore, adapter: Adapter) -> None:
    target = chain_rows(store, 3)[1]
    adapter.edit_payload(store, target.seq, target.payload.replace("agent", "agenT"))
    broken = store.verify_audit().first_broken
    assert broken is not None
    assert (broken.seq, broken.event_id) == (target.seq, target.event_id)
    assert broken.problem.startswith("hash mismatch")


def test_verify_finds_a_deleted_row_at_the_row_after_it(store: ReadStore, adapter: Adapter) -> None:
    first, deleted, after = chain_rows(store, 3)[:3]
    adapter.delete_row(store, deleted.seq)
    result = store.verify_audit()
    assert not result.ok and result.first_broken is not None
    assert (result.first_broken.seq, result.first_broken.aggregate_id) == (
        after.seq,
        str(after.aggregate_id),
    )
    assert result.first_broken.problem.startswith("previous-hash mismatch")


def test_verify_finds_a_deleted_last_row_against_the_chain_head(
    store: ReadStore, adapter: Adapter
) -> None:
    last = chain_rows(store, 2)[-1]
    adapter.delete_row(store, last.seq)
    broken = store.verify_audit().first_broken
    assert broken is not None and broken.seq == last.seq
    assert "deleted at the end" in broken.problem


def forge_between(store: ReadStore, history: History, valid_hash: bool) -> tuple[Any, Any]:
    """Insert a row between two rows of a case chain, in a seq no audit row uses."""
    audited = {row.seq for row in store.audit_query(AuditQuery())}
    rows = chain_rows(store, 2)
    by_case: dict[UUID, list[Any]] = defaultdict(list)
    for row in store.audit_query(AuditQuery(event_type=None)):
        by_case[row.aggregate_id].append(row)
    for rows in by_case.values():
        for before, after in zip(rows, rows[1:], strict=False):
            free = [s for s in range(before.seq + 1, after.seq) if s not in audited]
            if free:
                content = (
                    free[0],
                    f"{before.aggregate_id}:{after.version}",
                    before.aggregate_type,
                    str(before.aggregate_id),
                    after.version,
                    None if before.notice_id is None else str(before.notice_id),
                    None if before.notifier_id is None else str(before.notifier_id),
                    before.seller_id,
                    "agent:mallory",
                    "withdrawn",
                    before.model_dump(mode="json")["occurred_at"],
                    "{}",
                    None,
                )
                digest = row_hash(before.hash, content) if valid_hash else "f" * 64
                return AuditRecord(*content, before.hash, digest), after
    raise AssertionError(f"no gap in any chain of {len(rows)} rows")


@pytest.mark.parametrize("valid_hash", (True, False), ids=("well-forged", "badly-forged"))
def test_verify_finds_an_inserted_row(
    store: ReadStore, adapter: Adapter, history: History, valid_hash: bool
) -> None:
    forged, after = forge_between(store, history, valid_hash)
    adapter.insert_row(store, forged)
    broken = store.verify_audit().first_broken
    assert broken is not None
    if valid_hash:  # a row that hashes right is caught where the chain no longer links
        assert broken.seq == after.seq
        assert broken.problem == "previous-hash mismatch (row deleted or inserted before it)"
    else:
        assert broken.seq == forged.seq
        assert broken.problem.startswith("hash mismatch")


def test_verify_reports_the_lowest_broken_seq(store: ReadStore, adapter: Adapter) -> None:
    rows = list(store.audit_query(AuditQuery()))
    early, late = rows[len(rows) // 4], rows[3 * len(rows) // 4]
    adapter.edit_payload(store, late.seq, "{}")
    adapter.edit_payload(store, early.seq, "{}")
    broken = store.verify_audit().first_broken
    assert broken is not None and broken.seq == early.seq


# -- deadlines ---------------------------------------------------------------------------------


@pytest.mark.parametrize("days", (-120, -30, 0, 3650))
def test_due_deadlines_are_the_open_deadlines_due_by_then_earliest_first(
    shared: ReadStore, history: History, days: int
) -> None:
    moment = history.clock.now() + timedelta(days=days)
    expected = sorted(
        (history.case(c).deadlines[kind], str(c), kind.value)
        for c in history.case_ids
        for kind in history.case(c).due_deadlines(moment)
    )
    due = [(d.due_at, str(d.case_id), d.deadline.value) for d in shared.due_deadlines(moment)]
    assert due == expected
    if days >= 0:
        assert due
