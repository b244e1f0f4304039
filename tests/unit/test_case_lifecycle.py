"""The case lifecycle: the transition table, deadlines, actors and times, concurrent writers."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from domain.application import ConcurrencyConflict, NtdApplication
from domain.case import (
    DEADLINE_STEP,
    TRANSITIONS,
    Authenticity,
    Case,
    CaseError,
    Deadline,
    IllegalStep,
    State,
    Step,
)
from domain.service import ATTEMPTS
from domain.values import SYSTEM, Actor, DomainError
from tests.unit.domain_fixtures import (
    AGENT,
    AUTOMATED,
    BRAND_USER,
    LONG_AFTER,
    REACH,
    SELLER,
    Desk,
    FakeClock,
    grant_cast,
    log_size,
    make_app,
    make_desk,
    reach,
    reasons,
    register_brand,
)

pytestmark = pytest.mark.fast

# -- performing every step -----------------------------------------------------------------------


def _on_aggregate(desk: Desk, case_id: UUID, command: Callable[[Case, datetime], None]) -> None:
    case = desk.app.case(case_id, AGENT)
    command(case, desk.clock.now())
    desk.app.save(case)


def _miss(deadline: Deadline) -> Callable[[Desk, UUID], Any]:
    def miss(desk: Desk, case_id: UUID) -> None:
        desk.clock.advance(LONG_AFTER)
        desk.app.miss_deadline(case_id, deadline)

    return miss


PERFORM: dict[Step, Callable[[Desk, UUID], Any]] = {
    Step.REQUEST_CLARIFICATION: lambda d, c: d.app.request_clarification(c, "Which mark?", AGENT),
    Step.PROVIDE_CLARIFICATION: lambda d, c: d.app.provide_clarification(c, "EU 123.", BRAND_USER),
    Step.LAPSE_CLARIFICATION: _miss(Deadline.CLARIFICATION),
    Step.TAKE_DOWN: lambda d, c: d.app.take_down(c, reasons(), AGENT),
    Step.TAKE_DOWN_TRUSTED: lambda d, c: _on_aggregate(
        d, c, lambda case, now: case.take_down(AUTOMATED, SYSTEM, now, now + timedelta(days=2))
    ),
    Step.DECLINE: lambda d, c: d.app.decline(c, reasons(), AGENT),
    Step.CONFIRM_TAKEDOWN: lambda d, c: d.app.confirm_takedown(c, reasons(), AGENT),
    Step.REVERSE_TAKEDOWN: lambda d, c: d.app.reverse_takedown(c, reasons(), AGENT),
    Step.MISS_REVIEW: _miss(Deadline.REVIEW),
    Step.NOTIFY_SELLER: lambda d, c: _on_aggregate(
        d, c, lambda case, now: case.notify_seller(now + timedelta(days=14), SYSTEM, now)
    ),
    Step.COUNTER_NOTICE: lambda d, c: d.app.counter_notice(c, "Genuine goods.", True, SELLER),
    Step.CLOSE_APPEAL_WINDOW: _miss(Deadline.COUNTER_NOTICE),
    Step.FORWARD_TO_NOTIFIER: lambda d, c: d.app.forward_to_notifier(c, AGENT),
    Step.MISS_FORWARDING: _miss(Deadline.FORWARDING),
    Step.REPORT_LITIGATION: lambda d, c: d.app.report_litigation(c, "LG", "1/31", BRAND_USER),
    Step.RESTORE_AFTER_FORWARDING: _miss(Deadline.RESTORATION),
    Step.UPHOLD_APPEAL: lambda d, c: d.app.uphold_appeal(c, reasons(), AGENT),
    Step.REJECT_APPEAL: lambda d, c: d.app.reject_appeal(c, reasons(), AGENT),
    Step.WITHDRAW: lambda d, c: d.app.withdraw(c, "We settled with the seller.", BRAND_USER),
    Step.CLOSE: lambda d, c: d.app.close_case(c, "Closed by the agent.", AGENT),
    Step.REQUEST_IDENTIFICATION: lambda d, c: d.app.request_identification(
        c, "Is this genuine?", [], AGENT
    ),
    Step.ANSWER_IDENTIFICATION: lambda d, c: d.app.answer_identification(
        c, Authenticity.COUNTERFEIT, "Wrong hologram.", [], BRAND_USER
    ),
    Step.LAPSE_IDENTIFICATION: _miss(Deadline.IDENTIFICATION),
}

PREPARE: dict[Step, Callable[[Desk, UUID], Any]] = {
    Step.ANSWER_IDENTIFICATION: PERFORM[Step.REQUEST_IDENTIFICATION],
    Step.LAPSE_IDENTIFICATION: PERFORM[Step.REQUEST_IDENTIFICATION],
}
"""What an allowed step needs first: an answer or a lapse needs an open request (where a step
is forbidden, no request can be open: the three identification steps share their states)."""

ALLOWED = [
    pytest.param(step, state, id=f"{step.value}-from-{state.value}")
    for (step, state) in TRANSITIONS
]
FORBIDDEN = [
    pytest.param(step, state, id=f"{step.value}-from-{state.value}")
    for state in State
    for step in Step
    if (step, state) not in TRANSITIONS
]


def test_the_table_names_a_way_to_reach_every_state_and_perform_every_step() -> None:
    assert set(REACH) == set(State)
    assert set(PERFORM) == set(Step)
    assert len(ALLOWED) + len(FORBIDDEN) == len(State) * len(Step)


@pytest.mark.parametrize(("step", "state"), ALLOWED)
def test_every_allowed_step_leads_to_the_state_the_table_names(step: Step, state: State) -> None:
    desk = make_desk()
    case_id = reach(desk, state)
    if step in PREPARE:
        PREPARE[step](desk, case_id)
    before = desk.case(case_id).version

    PERFORM[step](desk, case_id)

    case = desk.case(case_id)
    assert case.state is TRANSITIONS[(step, state)]
    recorded = desk.app.case_events(case_id, AGENT)[before]
    assert recorded.step is step


@pytest.mark.parametrize(("step", "state"), FORBIDDEN)
def test_every_forbidden_step_is_refused_naming_the_case_its_state_and_the_step(
    step: Step, state: State
) -> None:
    desk = make_desk()
    case_id = reach(desk, state)
    version, stored = desk.case(case_id).version, log_size(desk.app)

    with pytest.raises(IllegalStep) as refused:
        PERFORM[step](desk, case_id)

    message = str(refused.value)
    assert str(case_id) in message
    assert f"is {state.value}" in message
    assert f"cannot {step.value.replace('_', ' ')} (" in message
    error = refused.value
    assert (error.case_id, error.state, error.step) == (case_id, state, step)
    assert desk.case(case_id).version == version
    assert log_size(desk.app) == stored


def test_the_refusal_lists_the_steps_allowed_now() -> None:
    desk = make_desk()
    case_id = reach(desk, State.COUNTER_NOTICED)

    with pytest.raises(
        IllegalStep, match=r"allowed now: answer_identification, close, forward_to_notifier, "
    ):
        desk.app.decline(case_id, reasons(), AGENT)


def test_a_closed_case_allows_nothing_and_says_so() -> None:
    desk = make_desk()
    case_id = reach(desk, State.CLOSED)

    with pytest.raises(IllegalStep, match=r"allowed now: nothing"):
        desk.app.withdraw(case_id, "Too late.", BRAND_USER)


# -- deadlines -----------------------------------------------------------------------------------

DEADLINES = [
    pytest.param(
        State.AWAITING_CLARIFICATION,
        Deadline.CLARIFICATION,
        State.LAPSED,
        5,
        id="clarification-lapses-the-case",
    ),
    pytest.param(
        State.TAKEN_DOWN_PENDING_REVIEW,
        Deadline.REVIEW,
        State.TAKEN_DOWN_PENDING_REVIEW,
        2,
        id="review-is-recorded-as-missed",
    ),
    pytest.param(
        State.TAKEN_DOWN,
        Deadline.COUNTER_NOTICE,
        State.CLOSED,
        10,
        id="counter-notice-window-closes-the-case",
    ),
    pytest.param(
        State.COUNTER_NOTICED,
        Deadline.FORWARDING,
        State.COUNTER_NOTICED,
        3,
        id="forwarding-is-recorded-as-missed",
    ),
    pytest.param(
        State.FORWARDED,
        Deadline.RESTORATION,
        State.REINSTATED,
        10,
        id="restoration-reinstates-the-listing",
    ),
]


@pytest.mark.parametrize(("state", "deadline", "effect", "business_days"), DEADLINES)
def test_a_deadline_is_set_by_the_policy_in_business_days(
    state: State, deadline: Deadline, effect: State, business_days: int
) -> None:
    desk = make_desk()
    case_id = reach(desk, state)
    case = desk.case(case_id)

    set_at = max(e.timestamp for e in desk.app.case_events(case_id, AGENT))
    expected = desk.app.calendar.add_business_days(set_at, business_days)
    assert case.deadlines[deadline] == expected


@pytest.mark.parametrize(("state", "deadline", "effect", "business_days"), DEADLINES)
def test_a_deadline_cannot_be_missed_before_it_is_due(
    state: State, deadline: Deadline, effect: State, business_days: int
) -> None:
    desk = make_desk()
    case_id = reach(desk, state)
    due = desk.case(case_id).deadlines[deadline]
    desk.clock.set(due - timedelta(seconds=1))
    version = desk.case(case_id).version

    with pytest.raises(CaseError, match=f"{deadline.value} deadline is not due until"):
        desk.app.miss_deadline(case_id, deadline)

    assert desk.case(case_id).version == version
    assert desk.case(case_id).due_deadlines(desk.clock.moment) == []


@pytest.mark.parametrize(("state", "deadline", "effect", "business_days"), DEADLINES)
def test_a_deadline_missed_when_due_has_the_effect_the_table_gives_it(
    state: State, deadline: Deadline, effect: State, business_days: int
) -> None:
    desk = make_desk()
    case_id = reach(desk, state)
    due = desk.case(case_id).deadlines[deadline]
    desk.clock.set(due)
    assert deadline in desk.case(case_id).due_deadlines(due)

    case = desk.app.miss_deadline(case_id, deadline)

    assert case.state is effect
    assert deadline not in case.deadlines
    assert case.missed == [deadline]
    missed = desk.app.case_events(case_id, AGENT)[-1]
    assert type(missed) is Case.DeadlineMissed
    assert (missed.deadline, missed.due_at, missed.step) == (deadline, due, DEADLINE_STEP[deadline])
    assert (missed.actor, missed.timestamp) == (SYSTEM, due)


def test_a_missed_deadline_cannot_be_missed_twice() -> None:
    desk = make_desk(trusted=True)
    case_id = desk.file_one()
    desk.clock.advance(LONG_AFTER)
    desk.app.miss_deadline(case_id, Deadline.REVIEW)

    with pytest.raises(CaseError, match="has no open review deadline"):
        desk.app.miss_deadline(case_id, Deadline.REVIEW)


def test_reported_litigation_keeps_the_listing_down_with_no_restoration_deadline() -> None:
    desk = make_desk()
    case_id = reach(desk, State.FORWARDED)
    restore_on = desk.case(case_id).deadlines[Deadline.RESTORATION]

    case = desk.app.report_litigation(case_id, "LG Hamburg", "312 O 1/31", BRAND_USER)
    assert case.litigation
    assert Deadline.RESTORATION not in case.deadlines

    desk.clock.set(restore_on + timedelta(days=1))
    assert desk.case(case_id).due_deadlines(desk.clock.moment) == []
    with pytest.raises(IllegalStep):
        desk.app.miss_deadline(case_id, Deadline.RESTORATION)
    assert desk.case(case_id).state is State.IN_LITIGATION


def test_a_counter_notice_is_accepted_up_to_the_end_of_the_window_and_refused_after() -> None:
    desk = make_desk()
    late, on_time = reach(desk, State.TAKEN_DOWN), reach(desk, State.TAKEN_DOWN)
    window = desk.case(late).deadlines[Deadline.COUNTER_NOTICE]

    desk.clock.set(window)
    assert desk.app.counter_notice(on_time, "Genuine.", True, SELLER).state is State.COUNTER_NOTICED

    desk.clock.set(window + timedelta(seconds=1))
    with pytest.raises(CaseError, match=re.escape(f"window is closed {window.isoformat()}")):
        desk.app.counter_notice(late, "Genuine.", True, SELLER)
    assert desk.case(late).state is State.TAKEN_DOWN


def test_a_counter_notice_after_the_window_closed_on_a_fast_lane_takedown_is_refused() -> None:
    desk = make_desk(trusted=True)
    case_id = desk.file_one()
    desk.clock.advance(LONG_AFTER)
    desk.app.miss_deadline(case_id, Deadline.COUNTER_NOTICE)
    assert desk.case(case_id).state is State.TAKEN_DOWN_PENDING_REVIEW

    with pytest.raises(CaseError, match="counter-notice window is not open"):
        desk.app.counter_notice(case_id, "Genuine.", True, SELLER)


def test_a_counter_notice_against_a_fast_lane_takedown_replaces_its_review() -> None:
    desk = make_desk(trusted=True)
    case_id = desk.file_one()

    case = desk.app.counter_notice(case_id, "Genuine goods.", True, SELLER)

    assert set(case.deadlines) == {Deadline.FORWARDING}  # the appeal's own clock, not the review
    desk.clock.advance(LONG_AFTER)
    assert desk.case(case_id).due_deadlines(desk.clock.moment) == [Deadline.FORWARDING]


def test_confirming_a_fast_lane_takedown_clears_its_review_but_keeps_the_appeal_window() -> None:
    desk = make_desk(trusted=True)
    case_id = desk.file_one()

    case = desk.app.confirm_takedown(case_id, reasons(), AGENT)

    assert case.state is State.TAKEN_DOWN
    assert set(case.deadlines) == {Deadline.COUNTER_NOTICE}


def test_reversing_a_fast_lane_takedown_reinstates_the_listing_and_clears_every_deadline() -> None:
    desk = make_desk(trusted=True)
    case_id = desk.file_one()

    case = desk.app.reverse_takedown(case_id, reasons(), AGENT)

    assert case.state is State.REINSTATED
    assert case.deadlines == {}


@pytest.mark.parametrize(
    ("state", "decide"),
    [
        pytest.param(
            State.TAKEN_DOWN_PENDING_REVIEW, NtdApplication.confirm_takedown, id="confirm"
        ),
        pytest.param(State.COUNTER_NOTICED, NtdApplication.uphold_appeal, id="uphold"),
        pytest.param(State.COUNTER_NOTICED, NtdApplication.reject_appeal, id="reject"),
        pytest.param(
            State.TAKEN_DOWN_PENDING_REVIEW, NtdApplication.reverse_takedown, id="reverse"
        ),
    ],
)
def test_a_reviewer_must_decide_and_an_automated_decision_is_refused(
    state: State, decide: Callable[..., Case]
) -> None:
    desk = make_desk()
    case_id = reach(desk, state)
    version = desk.case(case_id).version

    with pytest.raises(CaseError, match="a reviewer must .* it may not be automated"):
        decide(desk.app, case_id, AUTOMATED, AGENT)

    assert desk.case(case_id).version == version


def test_resolving_a_case_clears_its_deadlines() -> None:
    desk = make_desk()
    case_id = reach(desk, State.FORWARDED)

    case = desk.app.withdraw(case_id, "Settled.", BRAND_USER)

    assert case.deadlines == {}
    assert case.is_resolved


# -- who and when ------------------------------------------------------------------------------


def test_every_event_records_its_actor_and_the_injected_clocks_time() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    steps: list[tuple[Actor, datetime]] = [(BRAND_USER, desk.clock.moment)]
    desk.clock.advance(hours=3)
    desk.app.take_down(case_id, reasons(), AGENT)
    steps += [(AGENT, desk.clock.moment), (SYSTEM, desk.clock.moment)]
    desk.clock.advance(days=1, minutes=7)
    desk.app.counter_notice(case_id, "Genuine goods.", True, SELLER)
    steps.append((SELLER, desk.clock.moment))
    desk.clock.advance(days=1)
    desk.app.forward_to_notifier(case_id, AGENT)
    steps.append((AGENT, desk.clock.moment))
    desk.clock.advance(LONG_AFTER)
    desk.app.miss_deadline(case_id, Deadline.RESTORATION)
    steps.append((SYSTEM, desk.clock.moment))

    events = desk.app.case_events(case_id, AGENT)

    assert [(e.actor.principal, e.timestamp) for e in events] == [
        (actor.principal, at) for actor, at in steps
    ]  # each stored actor also names the role it acted under
    assert desk.case(case_id).modified_on == desk.clock.moment


def test_events_of_every_aggregate_carry_an_actor_and_a_time_the_clock_gave() -> None:
    desk = make_desk(trusted=True)
    case_id = desk.file_one()
    desk.app.reverse_takedown(case_id, reasons(), AGENT)
    desk.app.record_strike("shop.example", "seller-1", case_id)

    notifications = desk.app.recorder.select_notifications(start=1, limit=1000)
    events = [desk.app.mapper.to_domain_event(n) for n in notifications]

    assert len(events) == log_size(desk.app) > 10
    for event in events:
        assert event.timestamp in desk.clock.readings
        assert event.actor.id


# -- queries over time ---------------------------------------------------------------------------


def test_a_case_can_be_read_as_it_stood_at_any_version_or_moment() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    filed_at = desk.clock.moment
    desk.clock.advance(1)
    desk.app.decline(case_id, reasons(), AGENT)

    assert desk.app.case(case_id, AGENT, version=1).state is State.FILED
    assert desk.app.case_as_of(case_id, filed_at + timedelta(hours=1), AGENT).state is State.FILED
    assert desk.app.case_as_of(case_id, desk.clock.moment, AGENT).state is State.DECLINED
    with pytest.raises(DomainError, match="did not exist yet"):
        desk.app.case_as_of(case_id, filed_at - timedelta(seconds=1), AGENT)
    with pytest.raises(DomainError, match="has only 2 versions, not 5"):
        desk.app.case(case_id, AGENT, version=5)


# -- concurrent writers --------------------------------------------------------------------------


class RacingApp(NtdApplication):
    """Lets another writer in just before the next save, as a second process would."""

    before_next_save: Callable[[], Any] | None = None

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        meddle, self.before_next_save = self.before_next_save, None
        if meddle is not None:
            meddle()
        return super().save(*objs, **kwargs)


class AlwaysConflicting(NtdApplication):
    """Every save loses the race once `conflicting` is set."""

    conflicting = False
    saves = 0

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        if self.conflicting:
            self.saves += 1
            raise IntegrityError("UNIQUE constraint failed: stored_events")
        return super().save(*objs, **kwargs)


def _sqlite(tmp_path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "ntd.db")}


def _racing_desk(tmp_path: Path) -> tuple[Desk, NtdApplication]:
    clock = FakeClock()
    app = RacingApp(_sqlite(tmp_path), clock=clock)
    grant_cast(app)
    notifier_id, right_id = register_brand(app)
    return Desk(app, clock, notifier_id, right_id), make_app(FakeClock(), env=_sqlite(tmp_path))


@pytest.mark.sqlite  # two instances share one store
def test_a_command_on_a_case_changed_meanwhile_by_another_instance_is_retried_and_lands(
    tmp_path: Path,
) -> None:
    desk, other = _racing_desk(tmp_path)
    case_id = desk.file_one()
    assert isinstance(desk.app, RacingApp)
    desk.app.before_next_save = lambda: other.request_clarification(case_id, "Which?", AGENT)

    case = desk.app.withdraw(case_id, "Settled.", BRAND_USER)

    assert case.state is State.WITHDRAWN
    events = other.case_events(case_id, AGENT)
    assert [e.originator_version for e in events] == [1, 2, 3]
    assert [type(e).__name__ for e in events] == ["Filed", "ClarificationRequested", "Withdrawn"]
    assert other.case(case_id, AGENT).state is State.WITHDRAWN


@pytest.mark.sqlite
def test_a_stale_retry_that_is_no_longer_allowed_is_refused_not_forced(tmp_path: Path) -> None:
    desk, other = _racing_desk(tmp_path)
    case_id = desk.file_one()
    assert isinstance(desk.app, RacingApp)
    desk.app.before_next_save = lambda: other.decline(case_id, reasons(), AGENT)

    with pytest.raises(IllegalStep, match="is declined: cannot take down"):
        desk.app.take_down(case_id, reasons(), AGENT)

    assert [e.originator_version for e in other.case_events(case_id, AGENT)] == [1, 2]


@pytest.mark.sqlite
def test_the_same_listing_filed_by_two_instances_at_once_ends_in_one_case(tmp_path: Path) -> None:
    desk, other = _racing_desk(tmp_path)
    assert isinstance(desk.app, RacingApp)
    theirs: list[UUID] = []
    desk.app.before_next_save = lambda: theirs.append(
        other.file_notice(desk.notice("L-9"), BRAND_USER).cases[0].case_id
    )

    receipt = desk.file("L-9")

    assert receipt.cases[0].case_id == theirs[0]
    assert receipt.cases[0].already_open
    assert receipt.new_case_ids == []


def test_a_command_that_keeps_conflicting_gives_up_with_a_clear_message() -> None:
    clock = FakeClock()
    app = AlwaysConflicting(clock=clock)
    grant_cast(app)
    notifier_id, right_id = register_brand(app)
    desk = Desk(app, clock, notifier_id, right_id)
    case_id = desk.file_one()
    stored = log_size(app)
    app.conflicting = True

    with pytest.raises(ConcurrencyConflict, match=f"case {case_id} kept changing .*; retry"):
        app.decline(case_id, reasons(), AGENT)
    assert app.saves == ATTEMPTS
    with pytest.raises(ConcurrencyConflict, match=f"notifier {notifier_id} kept changing"):
        app.warn_notifier(notifier_id, "Unfounded notices.", 0.4)
    with pytest.raises(ConcurrencyConflict, match=f"notice by {notifier_id} kept conflicting"):
        desk.file_one()
    with pytest.raises(ConcurrencyConflict, match="seller seller-1 kept changing"):
        app.record_strike("shop.example", "seller-1", case_id)

    assert app.saves == 4 * ATTEMPTS
    assert log_size(app) == stored
