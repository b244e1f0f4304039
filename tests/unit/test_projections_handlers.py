"""Handlers and the pure parts of the read side, on short, hand-written lifecycles."""

from __future__ import annotations

import ast
import random
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from domain.case import Deadline, State
from domain.rules import Rules
from projections import AuditQuery, catch_up
from projections.dashboard import Figures, Tally, percentile, ratio, trusted
from projections.encoding import stamp
from projections.handlers import _HANDLERS, CASE_FACTS
from projections.memory import MemoryReadStore
from tests.unit.projection_fixtures import ALICE, FakeClock, History, new_app, reasons

pytestmark = pytest.mark.fast

PROJECTIONS = Path(__file__).resolve().parents[2] / "projections"


@pytest.fixture
def desk() -> History:
    clock = FakeClock()
    history = History(new_app(clock), clock, random.Random(1))
    history.register("Acme")
    return history


def synced(desk: History) -> MemoryReadStore:
    store = MemoryReadStore()
    catch_up(desk.app, store)
    return store


def assert_mirrors_case(desk: History, case_id: UUID) -> None:
    store = synced(desk)
    case, summary = desk.case(case_id), store.case(case_id)
    assert summary is not None
    assert (summary.state, summary.deadlines) == (case.state, case.deadlines)


# -- pure figures ------------------------------------------------------------------------------


def test_percentiles_are_nearest_rank_and_always_an_observed_value() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.9) == 4.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0


class _Unknown(tzinfo):
    def utcoffset(self, moment: datetime | None) -> timedelta | None:
        return None


class _Moment(datetime):
    pass


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 1, 12, 30, 5, 250, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 3, 1, 12, 30, 5, 7, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 3, 29, 1, 30, 0, 1, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        TypeAdapter(datetime).validate_json('"2026-03-01T12:30:05.5Z"'),  # pydantic's own tzinfo
        TypeAdapter(datetime).validate_json('"2026-03-01T12:30:05.5-08:00"'),
        datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(seconds=1))),  # not +00:00
        datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(microseconds=1))),
        datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=_Unknown()),  # an unknown offset: local time
        _Moment(2026, 3, 1, 12, 0, 0, 5, tzinfo=UTC),  # a datetime subclass
    ],
)
def test_stamps_are_utc_iso_text_with_microseconds_whatever_the_zone(moment: datetime) -> None:
    assert stamp(moment) == moment.astimezone(UTC).isoformat(timespec="microseconds")
    assert stamp(moment).endswith("+00:00")


def test_rates_are_none_without_a_denominator() -> None:
    assert ratio(0, 0) is None
    assert ratio(1, 4) == 0.25


def figures_with(window: Tally) -> Figures:
    at = FakeClock().now()
    return Figures(UUID(int=1), "Acme", False, at, at, Tally(), window, {}, {}, [], {}, {}, [])


@pytest.mark.parametrize(
    ("window", "qualifies"),
    [
        (Tally(cases=20, decided=20, taken_down=19, reversed=0, settled=20), True),
        # too few notices settled
        (Tally(cases=19, decided=19, taken_down=19, reversed=0, settled=19), False),
        # 85 % net takedowns
        (Tally(cases=20, decided=20, taken_down=18, reversed=1, settled=20), False),
        # 7.5 % reversed
        (Tally(cases=40, decided=40, taken_down=40, reversed=3, settled=40), False),
        (Tally(cases=40, decided=0), False),  # nothing decided yet
    ],
)
def test_trusted_standing_needs_enough_notices_takedowns_and_few_reversals(
    window: Tally, qualifies: bool
) -> None:
    figures = trusted(figures_with(window), Rules())
    assert figures.qualifies is qualifies
    assert (figures.min_takedown_share, figures.max_reversal_share) == (0.90, 0.05)


# -- case handlers -----------------------------------------------------------------------------


def test_a_fast_lane_case_opens_and_clears_deadlines_exactly_as_the_case_does(
    desk: History,
) -> None:
    app, clock = desk.app, desk.clock
    app.admit_to_trusted_lane(desk.notifiers["Acme"][0], 0.95, 0.01, 40)
    (case_id,) = desk.file("Acme")
    assert_mirrors_case(desk, case_id)
    assert set(synced(desk).case(case_id).deadlines) == {  # type: ignore[union-attr]
        Deadline.REVIEW,
        Deadline.COUNTER_NOTICE,
    }
    clock.advance(hours=5)
    app.counter_notice(case_id, "Genuine stock.", True, desk.seller_of(case_id))
    assert_mirrors_case(desk, case_id)
    app.forward_to_notifier(case_id, ALICE)
    assert_mirrors_case(desk, case_id)
    clock.advance(days=30)
    app.miss_deadline(case_id, Deadline.RESTORATION)
    assert_mirrors_case(desk, case_id)
    summary = synced(desk).case(case_id)
    assert summary is not None
    assert summary.state is State.REINSTATED and summary.deadlines == {}
    assert summary.reversed and summary.counter_noticed


def test_a_missed_restoration_is_a_reversal_and_a_breach(desk: History) -> None:
    app, clock = desk.app, desk.clock
    (case_id,) = desk.file("Acme")
    app.take_down(case_id, reasons(), ALICE)
    app.counter_notice(case_id, "Genuine stock.", True, desk.seller_of(case_id))
    app.forward_to_notifier(case_id, ALICE)
    clock.advance(days=30)
    app.miss_deadline(case_id, Deadline.RESTORATION)
    dashboard = synced(desk).dashboard(desk.notifiers["Acme"][0], clock.now(), Rules())
    assert (dashboard.taken_down, dashboard.reversed, dashboard.decided) == (1, 1, 1)
    assert dashboard.takedown_rate == 0.0
    assert dashboard.reversal_rate == 1.0
    assert dashboard.breaches == {Deadline.RESTORATION: 1}
    assert dashboard.top_sellers == ()


def test_a_clarification_lapses_with_its_deadline_and_nothing_stays_open(desk: History) -> None:
    app, clock = desk.app, desk.clock
    (case_id,) = desk.file("Acme")
    app.request_clarification(case_id, "Which mark?", ALICE)
    assert_mirrors_case(desk, case_id)
    clock.advance(days=10)
    assert [d.deadline for d in synced(desk).due_deadlines(clock.now())] == [Deadline.CLARIFICATION]
    app.miss_deadline(case_id, Deadline.CLARIFICATION)
    assert_mirrors_case(desk, case_id)
    assert synced(desk).due_deadlines(clock.now() + timedelta(days=999)) == []


def test_a_declined_case_is_decided_but_not_taken_down(desk: History) -> None:
    (case_id,) = desk.file("Acme")
    desk.app.decline(case_id, reasons(), ALICE)
    dashboard = synced(desk).dashboard(desk.notifiers["Acme"][0], desk.clock.now(), Rules())
    assert (dashboard.decided, dashboard.declined, dashboard.taken_down) == (1, 1, 0)
    assert (dashboard.takedown_rate, dashboard.decline_rate) == (0.0, 1.0)
    assert dashboard.counter_notice_rate is None


def test_every_event_that_records_a_fact_is_a_case_event_with_a_handler() -> None:
    from domain.case import Case

    assert all(issubclass(kind, Case.Transitioned) for kind in CASE_FACTS)
    assert Case.Filed in _HANDLERS and Case.Transitioned in _HANDLERS


# -- notifiers and the audit trail -------------------------------------------------------------


def test_the_trusted_lane_follows_admission_removal_and_suspension(desk: History) -> None:
    app = desk.app
    acme = desk.notifiers["Acme"][0]

    def lane() -> bool:
        (summary,) = synced(desk).notifiers()
        return summary.in_trusted_lane

    assert not lane()
    app.admit_to_trusted_lane(acme, 0.95, 0.01, 40)
    assert lane()
    app.warn_notifier(acme, "Unfounded notices.", 0.4)
    app.suspend_notifier(acme, "Unfounded notices after a warning.", days=5)
    assert not lane()


def test_listing_claim_events_move_the_position_but_leave_no_audit_row(desk: History) -> None:
    desk.file("Acme")
    store = synced(desk)
    kinds = {row.aggregate_type for row in store.audit_query(AuditQuery())}
    assert kinds == {"case", "notifier"}
    assert store.position() == desk.last_id()
    assert max(row.seq for row in store.audit_query(AuditQuery())) < store.position()


def test_decisions_carry_their_statement_of_reasons_in_the_audit_row(desk: History) -> None:
    (case_id,) = desk.file("Acme")
    desk.app.decline(case_id, reasons(), ALICE)
    (row,) = synced(desk).audit_query(AuditQuery(case_id=case_id, event_type="declined"))
    assert row.reasons is not None and '"facts":"The test buy showed' in row.reasons
    assert row.actor == "agent:alice"
    (filed,) = synced(desk).audit_query(AuditQuery(case_id=case_id, event_type="filed"))
    assert filed.reasons is None and filed.actor == "notifier_user:acme-user"


# -- the dependency rule -----------------------------------------------------------------------


def imports_of(path: Path) -> list[tuple[str, bool]]:
    """(module, at module level?) for every import in a file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
    return found


def test_projections_never_import_kafka_and_load_psycopg2_only_when_used() -> None:
    for path in PROJECTIONS.glob("*.py"):
        for module, top_level in imports_of(path):
            assert not module.startswith("kafka"), path.name
            assert not module.startswith("consumers"), path.name
            assert not (module.startswith("psycopg2") and top_level), path.name
