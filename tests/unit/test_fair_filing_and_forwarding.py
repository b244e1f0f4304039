"""Issue 12, part 4: a counter-notice is forwarded within a business-day deadline, a client's
notice id belongs to its notifier and names one set of listings, and the notice's sworn parts
stay with every case it opened. Each scenario fails on the code before these rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

import domain.filing
from domain.application import NtdApplication
from domain.case import Case, CaseError, Contact, Deadline, State, Step, SwornStatement
from domain.notice import ClientNotice, NoticeRefused, NoticeSubmission, parse_notice
from domain.rules import Rules
from ntd.cli.render_case import case_json, case_view
from ntd.deadlines import fire_all
from projections import catch_up
from projections.memory import MemoryReadStore
from tests.unit.domain_fixtures import (
    AGENT,
    BRAND_USER,
    SELLER,
    Desk,
    FakeClock,
    listing_data,
    log_size,
    make_app,
    make_desk,
    notice_data,
    reach,
    reasons,
    register_brand,
)

pytestmark = pytest.mark.fast


def events(desk: Desk, case_id: UUID) -> list[Any]:
    return list(desk.app.case_events(case_id, AGENT))


# -- 1. a counter-notice is forwarded within a business-day deadline ------------------------------


def test_a_counter_notice_must_be_forwarded_within_three_business_days() -> None:
    desk = make_desk()
    case_id = reach(desk, State.TAKEN_DOWN)
    thursday = desk.clock.advance(3)
    assert thursday.weekday() == 3

    case = desk.app.counter_notice(case_id, "Genuine goods.", True, SELLER)

    due = desk.app.calendar.add_business_days(thursday, Rules().forwarding_days)
    assert due == thursday + timedelta(days=5)  # the weekend does not count
    assert case.deadlines == {Deadline.FORWARDING: due}
    counter_noticed = events(desk, case_id)[-1]
    assert type(counter_noticed) is Case.CounterNoticed
    assert counter_noticed.forward_by == due


def test_forwarding_the_counter_notice_closes_its_deadline_and_opens_the_restoration() -> None:
    desk = make_desk()
    case_id = reach(desk, State.COUNTER_NOTICED)

    case = desk.app.forward_to_notifier(case_id, AGENT)

    assert set(case.deadlines) == {Deadline.RESTORATION}
    desk.clock.advance(5)
    assert desk.case(case_id).due_deadlines(desk.clock.moment) == []


def test_a_forwarding_deadline_is_not_missed_before_it_is_due() -> None:
    desk = make_desk()
    case_id = reach(desk, State.COUNTER_NOTICED)
    due = desk.case(case_id).deadlines[Deadline.FORWARDING]
    desk.clock.set(due - timedelta(seconds=1))

    with pytest.raises(CaseError, match="forwarding deadline is not due until"):
        desk.app.miss_deadline(case_id, Deadline.FORWARDING)


def test_a_passed_forwarding_deadline_is_a_breach_that_leaves_the_case_counter_noticed() -> None:
    desk = make_desk()
    case_id = reach(desk, State.COUNTER_NOTICED)
    due = desk.case(case_id).deadlines[Deadline.FORWARDING]
    desk.clock.set(due)

    case = desk.app.miss_deadline(case_id, Deadline.FORWARDING)

    assert case.state is State.COUNTER_NOTICED
    assert case.missed == [Deadline.FORWARDING]
    assert case.deadlines == {}
    missed = events(desk, case_id)[-1]
    assert type(missed) is Case.DeadlineMissed
    assert (missed.step, missed.deadline, missed.due_at) == (
        Step.MISS_FORWARDING,
        Deadline.FORWARDING,
        due,
    )
    late = desk.app.forward_to_notifier(case_id, AGENT)  # still owed, and still possible
    assert late.state is State.FORWARDED


@pytest.mark.parametrize(
    "decide",
    [
        pytest.param(lambda d, c: d.app.uphold_appeal(c, reasons(), AGENT), id="uphold"),
        pytest.param(lambda d, c: d.app.reject_appeal(c, reasons(), AGENT), id="reject"),
        pytest.param(lambda d, c: d.app.withdraw(c, "Settled.", BRAND_USER), id="withdraw"),
        pytest.param(lambda d, c: d.app.close_case(c, "Done.", AGENT), id="close"),
    ],
)
def test_deciding_withdrawing_or_closing_a_counter_noticed_case_clears_the_forwarding(
    decide: Callable[[Desk, UUID], Case],
) -> None:
    desk = make_desk()
    case_id = reach(desk, State.COUNTER_NOTICED)

    case = decide(desk, case_id)

    assert Deadline.FORWARDING not in case.deadlines


def test_deadlines_run_fires_a_passed_forwarding_and_the_dashboard_counts_it() -> None:
    desk = make_desk()
    case_id = reach(desk, State.COUNTER_NOTICED)
    desk.clock.advance(7)
    store = MemoryReadStore()
    catch_up(desk.app, store)
    due = store.due_deadlines(desk.clock.moment)
    assert [(d.case_id, d.deadline) for d in due] == [(case_id, Deadline.FORWARDING)]

    fired = fire_all(desk.app, due)

    assert [f.skipped for f in fired] == [None]
    catch_up(desk.app, store)
    dashboard = store.dashboard(desk.notifier_id, desk.clock.moment, Rules())
    assert dashboard.breaches == {Deadline.FORWARDING: 1}
    assert store.due_deadlines(desk.clock.moment) == []


def test_case_show_names_the_missed_forwarding_deadline_for_the_agent() -> None:
    desk = make_desk()
    case_id = reach(desk, State.COUNTER_NOTICED)
    due = desk.case(case_id).deadlines[Deadline.FORWARDING]
    desk.clock.set(due + timedelta(hours=1))
    desk.app.miss_deadline(case_id, Deadline.FORWARDING)
    case, timeline = desk.case(case_id), events(desk, case_id)

    text = case_view(case, timeline, "Acme", desk.clock.moment)

    assert "missed deadlines" in text
    missed_row = next(line for line in text.splitlines() if line.startswith("  forwarding "))
    assert "2031-03-" in missed_row
    assert case_json(case, timeline)["missed"] == ["forwarding"]


def test_a_counter_notice_stored_before_the_forwarding_deadline_still_reads_back() -> None:
    desk = make_desk()
    case_id = reach(desk, State.COUNTER_NOTICED)
    stored = _stored_without(desk.app, events(desk, case_id)[-1], "forward_by")

    event = desk.app.mapper.to_domain_event(stored)

    assert type(event) is Case.CounterNoticed
    assert event.forward_by is None


# -- 2. a client's notice id is scoped to its notifier and names one set of listings --------------


def _file(app: NtdApplication, data: dict[str, Any]) -> Any:
    return app.file_notice(parse_notice(data), BRAND_USER)


def _refused(desk: Desk, submission: NoticeSubmission) -> list[str]:
    stored = log_size(desk.app)
    with pytest.raises(NoticeRefused) as refused:
        desk.app.file_notice(submission, BRAND_USER)
    assert log_size(desk.app) == stored, "a refused notice must save nothing"
    return refused.value.problems


def test_two_notifiers_using_the_same_client_notice_id_each_get_a_notice_of_their_own() -> None:
    desk = make_desk()
    client = uuid4()
    ours = desk.file("L-1", notice_id=str(client))
    other, their_right = register_brand(desk.app, "Other")

    theirs = _file(
        desk.app, notice_data(other, their_right, [listing_data("L-1")], notice_id=client)
    )

    assert theirs.notice_id != ours.notice_id
    assert theirs.new_case_ids and theirs.new_case_ids != ours.new_case_ids
    assert desk.case(theirs.new_case_ids[0]).notifier_id == other
    assert desk.case(theirs.new_case_ids[0]).notice_id == theirs.notice_id


def test_the_stored_notice_id_is_derived_from_the_notifier_and_the_clients_id() -> None:
    desk = make_desk()
    client = uuid4()

    receipt = desk.file("L-1", notice_id=str(client))

    assert receipt.notice_id == ClientNotice.id_for(desk.notifier_id, client) != client
    assert receipt.client_notice_id == client
    case = desk.case(receipt.cases[0].case_id)
    assert (case.notice_id, case.client_notice_id) == (receipt.notice_id, client)


def test_a_retry_naming_the_same_listings_in_any_order_returns_the_cases_saving_nothing() -> None:
    desk = make_desk()
    client = str(uuid4())
    first = desk.file("L-1", "L-2", notice_id=client)
    desk.app.decline(first.cases[0].case_id, reasons(), AGENT)
    stored = log_size(desk.app)

    retry = desk.file("L-2", "L-1", notice_id=client)

    assert retry.notice_id == first.notice_id
    assert [c.case_id for c in retry.cases] == [c.case_id for c in reversed(first.cases)]
    assert retry.new_case_ids == []
    assert log_size(desk.app) == stored


def test_the_same_client_notice_id_naming_other_listings_is_refused_naming_the_difference() -> None:
    desk = make_desk()
    client = uuid4()
    desk.file("L-1", "L-2", notice_id=str(client))

    problems = _refused(desk, desk.notice("L-1", "L-3", notice_id=str(client)))

    assert problems == [
        f"notice_id: {client} was already used for listings shop.example/L-1, shop.example/L-2; "
        "this notice names shop.example/L-1, shop.example/L-3 "
        "(added: shop.example/L-3; missing: shop.example/L-2)"
    ]


@pytest.mark.parametrize(
    ("listings", "difference"),
    [
        pytest.param(
            ("L-7",),
            "added: shop.example/L-7; missing: shop.example/L-1, shop.example/L-2",
            id="other",
        ),
        pytest.param(("L-1",), "missing: shop.example/L-2", id="fewer"),
        pytest.param(("L-1", "L-2", "L-3"), "added: shop.example/L-3", id="more"),
    ],
)
def test_a_client_notice_id_re_used_for_other_fewer_or_more_listings_is_refused(
    listings: tuple[str, ...], difference: str
) -> None:
    desk = make_desk()
    client = str(uuid4())
    first = desk.file("L-1", "L-2", notice_id=client)

    problems = _refused(desk, desk.notice(*listings, notice_id=client))

    assert len(problems) == 1
    assert problems[0].startswith(f"notice_id: {client} was already used for listings ")
    assert problems[0].endswith(f"({difference})")
    cases = [desk.case(c.case_id) for c in first.cases]
    assert [c.listing.listing_id for c in cases] == ["L-1", "L-2"]


def test_a_long_difference_is_named_in_short() -> None:
    desk = make_desk()
    client = str(uuid4())
    desk.file(*(f"A-{n}" for n in range(8)), notice_id=client)

    (problem,) = _refused(desk, desk.notice(*(f"B-{n}" for n in range(9)), notice_id=client))

    assert "shop.example/A-4 and 3 more;" in problem
    assert "(added: shop.example/B-0, " in problem and "B-4 and 4 more; missing: " in problem


def _filed_by_the_old_code(desk: Desk, *listing_ids: str, client: str) -> Any:
    """File as ntd did before notice ids were scoped: the client's id is the notice's id."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(domain.filing, "notice_id_for", lambda s, n, k: (s.notice_id, False))
        return desk.file(*listing_ids, notice_id=client)


def test_a_notice_filed_before_ids_were_scoped_is_still_found_under_the_clients_id() -> None:
    desk = make_desk()
    client = str(uuid4())
    before = _filed_by_the_old_code(desk, "L-1", "L-2", client=client)
    assert before.notice_id == UUID(client)
    desk.app.decline(before.cases[0].case_id, reasons(), AGENT)
    stored = log_size(desk.app)

    retry = desk.file("L-1", "L-2", notice_id=client)

    assert retry.notice_id == before.notice_id
    assert [c.case_id for c in retry.cases] == [c.case_id for c in before.cases]
    assert log_size(desk.app) == stored
    (problem,) = _refused(desk, desk.notice("L-1", "L-3", notice_id=client))
    assert problem.endswith("(added: shop.example/L-3)")


@pytest.mark.sqlite  # two instances share one store
def test_two_filings_racing_under_one_client_id_with_other_listings_end_in_one_notice(
    tmp_path: Path,
) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "e.db")}
    clock = FakeClock()
    app = _Racing(env, clock=clock)
    desk = make_desk(clock=clock, env=env)
    desk = Desk(app, clock, desk.notifier_id, desk.right_id)
    other = make_app(FakeClock(), env=env)
    client = str(uuid4())
    theirs: list[Any] = []
    app.before_next_save = lambda: theirs.append(
        other.file_notice(desk.notice("L-1", notice_id=client), BRAND_USER)
    )

    (problem,) = _refused_after_race(desk, desk.notice("L-2", notice_id=client))

    assert problem.endswith("(added: shop.example/L-2; missing: shop.example/L-1)")
    assert theirs[0].new_case_ids


class _Racing(NtdApplication):
    """Lets another writer in just before the next save, as a second process would."""

    before_next_save: Callable[[], Any] | None = None

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        meddle, self.before_next_save = self.before_next_save, None
        if meddle is not None:
            meddle()
        return super().save(*objs, **kwargs)


def _refused_after_race(desk: Desk, submission: NoticeSubmission) -> list[str]:
    with pytest.raises(NoticeRefused) as refused:
        desk.app.file_notice(submission, BRAND_USER)
    return refused.value.problems


# -- 3. the notice's sworn parts are kept in the stored `filed` event ----------------------------


def test_the_filed_event_keeps_what_the_notifier_swore_and_who_signed() -> None:
    desk = make_desk()

    case_id = desk.file_one("L-1")

    sworn = SwornStatement(
        submitted_by=BRAND_USER.id,
        contact=Contact(name="Acme Legal", email="legal@acme.example"),
        good_faith_statement=True,
        accuracy_statement=True,
        signature="/Bob Example/",
    )
    filed = events(desk, case_id)[0]
    assert type(filed) is Case.Filed
    assert filed.sworn == sworn
    assert desk.case(case_id).sworn == sworn
    shown = case_json(desk.case(case_id), events(desk, case_id))
    assert shown["sworn"]["signature"] == "/Bob Example/"
    assert shown["timeline"][0]["payload"]["sworn"]["contact"]["email"] == "legal@acme.example"


def test_every_case_of_a_notice_keeps_the_sworn_parts_in_both_lanes() -> None:
    desk = make_desk(trusted=True)

    receipt = desk.file("L-1", "L-2")

    for filed in receipt.cases:
        sworn = desk.case(filed.case_id).sworn
        assert sworn is not None and sworn.signature == "/Bob Example/"


def test_a_filed_event_stored_before_the_sworn_parts_were_kept_still_reads_back() -> None:
    desk = make_desk()
    case_id = desk.file_one("L-1", notice_id=str(uuid4()))
    stored = _stored_without(desk.app, events(desk, case_id)[0], "sworn", "client_notice_id")

    event = desk.app.mapper.to_domain_event(stored)

    assert type(event) is Case.Filed
    assert (event.sworn, event.client_notice_id) == (None, None)
    case = event.mutate(None)
    assert isinstance(case, Case)
    assert (case.sworn, case.client_notice_id, case.state) == (None, None, State.FILED)


def _stored_without(app: NtdApplication, event: Any, *fields: str) -> StoredEvent:
    """The event as a release that did not have `fields` would have stored it."""
    stored = app.mapper.to_stored_event(event)
    state = json.loads(stored.state)
    for name in fields:
        state.pop(name)
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state).encode(),
    )
