"""Random command sequences on a case stay inside the table and replay to the same aggregate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.case import (
    DEADLINE_STEP,
    RESOLVED,
    TRANSITIONS,
    Authenticity,
    Case,
    CaseError,
    Deadline,
    IllegalStep,
    State,
    Step,
)
from domain.listing_claim import ListingClaim
from domain.values import SYSTEM
from tests.unit.domain_fixtures import (
    AGENT,
    AUTOMATED,
    BRAND_USER,
    SELLER,
    Desk,
    log_size,
    make_desk,
    reach,
    reasons,
)

pytestmark = pytest.mark.fast

MISSES = {step: deadline for deadline, step in DEADLINE_STEP.items()}
HUMAN_ONLY = {Step.CONFIRM_TAKEDOWN, Step.UPHOLD_APPEAL, Step.REJECT_APPEAL}
MOVES = ("step", "step", "step", "step", "time", "deadline", "refile")


def snapshot(case: Case) -> dict[str, Any]:
    """Everything a case holds (state, deadlines, missed, reasons, version, times...)."""
    return {name: value for name, value in vars(case).items() if name != "_pending_events"}


class CaseLifecycle(RuleBasedStateMachine):
    """Drives one listing's cases through the real application with a fake clock."""

    desk: Desk
    case_id: UUID
    listing_id: str

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[int, dict[str, Any]] = {}
        self.transitions_checked = 0

    def teardown(self) -> None:
        """Release the store's connections with each run: on PostgreSQL a run's pool kept them
        until garbage collection, and a hundred runs exhausted the server's clients."""
        desk = getattr(self, "desk", None)
        if desk is not None:
            desk.app.close()

    @initialize(start=st.sampled_from(list(State)))
    def file(self, start: State) -> None:
        """A case brought to any state by real commands, so that short runs still go deep."""
        self.desk = make_desk()
        self.case_id = reach(self.desk, start)
        self.listing_id = self.desk.case(self.case_id).listing.listing_id
        self.seen, self.transitions_checked = {}, 0
        self._check_new_versions(None)

    # -- the expected outcome of each command ------------------------------------------------------

    def _attempt(
        self, step: Step, command: Callable[[], Case | None], refused_because: str | None = None
    ) -> None:
        """Run a command; check that it is refused exactly when the table or a guard says so."""
        before = self.desk.case(self.case_id)
        stored = log_size(self.desk.app)
        allowed = (step, before.state) in TRANSITIONS
        try:
            live = command()
        except IllegalStep as error:
            assert not allowed, f"{step} from {before.state} is in the table but was refused"
            assert (error.case_id, error.state, error.step) == (self.case_id, before.state, step)
            self._assert_unchanged(before, stored)
            return
        except CaseError as error:
            assert allowed, f"{step} from {before.state} should be an IllegalStep"
            assert refused_because is not None, f"{step} refused: {error}"
            self._assert_unchanged(before, stored)
            return
        assert allowed, f"{step} from {before.state} is not in the table but succeeded"
        assert refused_because is None, f"{step} should have been refused: {refused_because}"
        self._check_new_versions(live)

    def _assert_unchanged(self, before: Case, stored: int) -> None:
        assert log_size(self.desk.app) == stored
        assert snapshot(self.desk.case(self.case_id)) == snapshot(before)

    def _check_new_versions(self, live: Case | None) -> None:
        """Every new event moved the case as the table says; replays equal what was seen live."""
        app = self.desk.app
        current = app.repository.get(self.case_id)
        assert isinstance(current, Case)
        if live is not None:
            assert snapshot(live) == snapshot(current)
        for version in range(1, current.version + 1):
            at_version = app.case(self.case_id, AGENT, version=version)
            seen = self.seen.setdefault(version, snapshot(at_version))
            assert snapshot(at_version) == seen
        events = app.case_events(self.case_id, AGENT)
        for event in events[max(1, self.transitions_checked) :]:
            was = self.seen[event.originator_version - 1]["state"]
            now = self.seen[event.originator_version]["state"]
            assert TRANSITIONS.get((event.step, was)) is now, (event.step, was, now)
        self.transitions_checked = len(events)

    # -- commands ----------------------------------------------------------------------------------

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        """One move: mostly a step on the case, sometimes time passing or a re-filing."""
        move = data.draw(st.sampled_from(MOVES), label="move")
        if move == "step":
            self._take_a_step(data)
        elif move == "time":
            self._let_time_pass(data.draw(st.integers(min_value=1, max_value=24 * 8), "hours"))
        elif move == "deadline":
            self._meet_a_deadline(data)
        else:
            self._refile()

    def _take_a_step(self, data: st.DataObject) -> None:
        """Mostly a step the table allows now (so runs get deep), sometimes any step at all."""
        state = self.desk.case(self.case_id).state
        legal = sorted(step for (step, frm) in TRANSITIONS if frm is state)
        onward = [step for step in legal if step not in (Step.CLOSE, Step.WITHDRAW)]
        choices = [st.sampled_from(steps) for steps in (onward, legal) if steps]
        step = data.draw(st.one_of(*choices, st.sampled_from(list(Step))))
        automated = step in HUMAN_ONLY and data.draw(st.booleans(), label="automated")
        command, refusal = self._command(step, automated)
        self._attempt(step, command, refusal)

    def _command(self, step: Step, automated: bool) -> tuple[Callable[[], Case | None], str | None]:
        """The application (or, for steps it takes internally, aggregate) call for a step."""
        app, case_id, clock = self.desk.app, self.case_id, self.desk.clock
        case = app.case(case_id, AGENT)
        given = AUTOMATED if automated else reasons()
        human = "automated" if automated else None
        if step in MISSES:
            due = case.deadlines.get(MISSES[step])
            not_due = "not due" if due is None or clock.moment < due else None
            return lambda: app.miss_deadline(case_id, MISSES[step]), not_due
        if step is Step.COUNTER_NOTICE:
            window = case.deadlines.get(Deadline.COUNTER_NOTICE)
            closed = "window closed" if window is None or clock.moment > window else None
            return lambda: app.counter_notice(case_id, "Genuine goods.", True, SELLER), closed
        answered = case.identification
        genuine = answered is not None and answered.verdict is Authenticity.GENUINE
        if step is Step.TAKE_DOWN_TRUSTED:
            return lambda: self._on_aggregate(
                lambda c, now: c.take_down(AUTOMATED, SYSTEM, now, now + timedelta(days=2))
            ), "genuine" if genuine else None
        if step is Step.NOTIFY_SELLER:
            return lambda: self._on_aggregate(
                lambda c, now: c.notify_seller(now + timedelta(days=14), SYSTEM, now)
            ), None
        commands: dict[Step, Callable[[], Case]] = {
            Step.REQUEST_CLARIFICATION: lambda: app.request_clarification(case_id, "Which?", AGENT),
            Step.PROVIDE_CLARIFICATION: lambda: app.provide_clarification(case_id, "1", BRAND_USER),
            Step.TAKE_DOWN: lambda: app.take_down(case_id, reasons(), AGENT),
            Step.DECLINE: lambda: app.decline(case_id, reasons(), AGENT),
            Step.CONFIRM_TAKEDOWN: lambda: app.confirm_takedown(case_id, given, AGENT),
            Step.REVERSE_TAKEDOWN: lambda: app.reverse_takedown(case_id, reasons(), AGENT),
            Step.FORWARD_TO_NOTIFIER: lambda: app.forward_to_notifier(case_id, AGENT),
            Step.REPORT_LITIGATION: lambda: app.report_litigation(case_id, "LG", "1", BRAND_USER),
            Step.UPHOLD_APPEAL: lambda: app.uphold_appeal(case_id, given, AGENT),
            Step.REJECT_APPEAL: lambda: app.reject_appeal(case_id, given, AGENT),
            Step.WITHDRAW: lambda: app.withdraw(case_id, "Settled.", BRAND_USER),
            Step.CLOSE: lambda: app.close_case(case_id, "Done.", AGENT),
            Step.REQUEST_IDENTIFICATION: lambda: app.request_identification(
                case_id, "Genuine?", [], AGENT
            ),
            Step.ANSWER_IDENTIFICATION: lambda: app.answer_identification(
                case_id, verdict, "Seen it.", [], BRAND_USER
            ),
        }
        asked = Deadline.IDENTIFICATION in case.deadlines
        # alternate the verdicts so that runs meet both a genuine answer and a counterfeit one
        verdict = Authenticity.GENUINE if case.version % 2 else Authenticity.COUNTERFEIT
        refusal = {
            Step.REQUEST_IDENTIFICATION: "one open request" if asked else None,
            Step.ANSWER_IDENTIFICATION: None if asked else "no open request",
            Step.TAKE_DOWN: "genuine" if genuine else None,
            Step.CONFIRM_TAKEDOWN: human or ("genuine" if genuine else None),
            Step.REJECT_APPEAL: human or ("genuine" if genuine else None),
        }
        return commands[step], refusal.get(step, human if step in HUMAN_ONLY else None)

    def _on_aggregate(self, command: Callable[[Case, datetime], None]) -> Case:
        case = self.desk.app.case(self.case_id, AGENT)
        command(case, self.desk.clock.now())
        self.desk.app.save(case)
        return case

    # -- time and re-filing ------------------------------------------------------------------------

    def _let_time_pass(self, hours: int) -> None:
        self.desk.clock.advance(hours=hours)

    def _meet_a_deadline(self, data: st.DataObject) -> None:
        """Jump to an open deadline (or to the second before it) and try to miss it."""
        deadlines = self.desk.case(self.case_id).deadlines
        if not deadlines:
            return
        deadline = data.draw(st.sampled_from(sorted(deadlines)), "deadline")
        due = deadlines[deadline]
        if due > self.desk.clock.moment:
            self.desk.clock.set(due - timedelta(seconds=data.draw(st.sampled_from([0, 1]))))
        command, refusal = self._command(DEADLINE_STEP[deadline], automated=False)
        self._attempt(DEADLINE_STEP[deadline], command, refusal)

    def _refile(self) -> None:
        resolved = self.desk.case(self.case_id).is_resolved
        stored = log_size(self.desk.app)
        receipt = self.desk.file(self.listing_id)
        filed = receipt.cases[0]
        if not resolved:
            assert (filed.case_id, filed.already_open) == (self.case_id, True)
            assert log_size(self.desk.app) == stored
            return
        assert filed.case_id != self.case_id and not filed.already_open
        self.case_id = filed.case_id
        self.seen, self.transitions_checked = {}, 0
        self._check_new_versions(None)

    # -- what always holds -------------------------------------------------------------------------

    @invariant()
    def every_open_deadline_can_be_missed_from_the_current_state(self) -> None:
        case = self.desk.case(self.case_id)
        stuck = [d for d in case.deadlines if (DEADLINE_STEP[d], case.state) not in TRANSITIONS]
        assert stuck == [], f"{case.state} holds deadlines it can never miss: {stuck}"

    @invariant()
    def the_listing_is_claimed_exactly_while_the_case_is_open(self) -> None:
        case = self.desk.case(self.case_id)
        claim_id = ListingClaim.id_for(self.desk.notifier_id, "shop.example", self.listing_id)
        claim = self.desk.app.repository.get(claim_id)
        assert isinstance(claim, ListingClaim)
        expected = None if case.state in RESOLVED else self.case_id
        assert claim.open_case_id == expected


CaseLifecycle.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_command_sequences_keep_every_case_inside_the_table = CaseLifecycle.TestCase
