"""The policies' pure decisions: which commands an event calls for, given what the view holds."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from consumers.envelope import event_id
from domain.case import Case, Deadline, Lane, Step
from domain.figures import counted
from domain.mapping import event_payload
from domain.notifier import Notifier, NotifierAlreadyDone
from domain.policies import (
    AdmitToTrustedLane,
    CaseFacts,
    Ledger,
    RecordStrike,
    RemoveFromTrustedLane,
    RemoveStrike,
    SellerRecord,
    Standing,
    SuspendNotifier,
    SuspendSeller,
    Tally,
    WarnNotifier,
    cause_of,
    decide,
    lane_command,
    misuse_command,
    standing_commands,
    strike_commands,
)
from domain.rules import Rules
from domain.seller import Seller, SellerAlreadyDone, SellerError
from domain.values import AlreadyDone
from tests.unit.domain_fixtures import AGENT, MONDAY, log_size, make_desk, reasons

pytestmark = pytest.mark.fast

RULES = Rules()
NOTIFIER = UUID("00000000-0000-0000-0000-00000000000a")
CASE = UUID("00000000-0000-0000-0000-0000000000c1")
NOTICE = UUID("00000000-0000-0000-0000-0000000000e1")
OTHER_CASE = UUID("00000000-0000-0000-0000-0000000000c2")
"""Another case of the same notice, about another listing of the same seller."""
SELLER_ID = Seller.id_for("shop.example", "seller-1")


def facts(case_id: UUID = CASE, filed_at: datetime = MONDAY, **flags: Any) -> CaseFacts:
    flags.setdefault("notice_id", NOTICE)
    return CaseFacts(case_id, NOTIFIER, "shop.example", "seller-1", filed_at, **flags)


def case_event(cls: type[Any], at: datetime = MONDAY, version: int = 3, **fields: Any) -> Any:
    """A case event as the store would hold it (only the fields its class needs)."""
    needs: dict[type[Any], dict[str, Any]] = {
        Case.TakenDown: {"lane": Lane.NORMAL, "reasons": reasons()},
        Case.TakedownConfirmed: {"reasons": reasons()},
        Case.TakedownReversed: {"reasons": reasons()},
        Case.AppealUpheld: {"reasons": reasons()},
        Case.AppealRejected: {"reasons": reasons()},
        Case.Declined: {"reasons": reasons()},
        Case.Withdrawn: {"reason": "Settled."},
        Case.DeadlineMissed: {"step": Step.RESTORE_AFTER_FORWARDING, "due_at": at},
    }
    return cls(
        originator_id=CASE,
        originator_version=version,
        timestamp=at,
        actor=AGENT,
        **{**needs.get(cls, {}), **fields},
    )


def struck(*cases: UUID, at: datetime = MONDAY, **changes: Any) -> SellerRecord:
    expires = at + timedelta(days=RULES.strike_lifetime_days)
    return replace(SellerRecord(SELLER_ID, {c: expires for c in cases}), **changes)


# -- strikes ------------------------------------------------------------------------------------


CLOSED = case_event(
    Case.DeadlineMissed, deadline=Deadline.COUNTER_NOTICE, step=Step.CLOSE_APPEAL_WINDOW
)
"""The seller's counter-notice window closing unused."""
STOOD = {"taken_down": True, "stands": True}
FINAL = {**STOOD, "window_closed": True}


@pytest.mark.parametrize(
    ("event", "case", "seller", "expected"),
    [
        (case_event(Case.TakenDown), STOOD, struck(), []),
        (CLOSED, FINAL, struck(), [RecordStrike]),
        (CLOSED, {"taken_down": True, "window_closed": True}, struck(), []),
        (case_event(Case.TakedownConfirmed), FINAL, struck(), [RecordStrike]),
        (case_event(Case.TakedownConfirmed), STOOD, struck(), []),
        (
            case_event(Case.AppealRejected),
            {"taken_down": True, "appeal_rejected": True},
            struck(),
            [RecordStrike],
        ),
        (CLOSED, FINAL, struck(CASE), []),
        (CLOSED, FINAL, struck(removed=frozenset({CASE})), []),
        (CLOSED, FINAL, struck(suspensions={"c:1": None}), []),
        (CLOSED, FINAL, struck(suspensions={"c:1": MONDAY + timedelta(days=1)}), []),
        (CLOSED, FINAL, struck(suspensions={"c:1": MONDAY}), [RecordStrike]),
        (
            CLOSED,
            FINAL,
            struck(suspensions={"c:1": None}, lifted=frozenset({"c:1"})),
            [RecordStrike],
        ),
        (CLOSED, FINAL, struck(OTHER_CASE, notices={OTHER_CASE: NOTICE}), []),
        (  # the notice's strike was removed: another final takedown of it may give one
            CLOSED,
            FINAL,
            struck(removed=frozenset({OTHER_CASE}), notices={OTHER_CASE: NOTICE}),
            [RecordStrike],
        ),
        (case_event(Case.AppealUpheld), {"reversed": True}, struck(CASE), [RemoveStrike]),
        (case_event(Case.AppealUpheld), {"reversed": True}, struck(), []),
        (
            case_event(Case.DeadlineMissed, deadline=Deadline.RESTORATION),
            {"reversed": True},
            struck(CASE),
            [RemoveStrike],
        ),
        (case_event(Case.TakedownReversed), {"reversed": True}, struck(CASE), [RemoveStrike]),
        (case_event(Case.Withdrawn), FINAL, struck(CASE), [RemoveStrike]),
        (
            case_event(Case.CounterNoticed, statement="Mine.", consents_to_jurisdiction=True),
            STOOD,
            struck(CASE),
            [],
        ),
    ],
)
def test_a_final_takedown_gives_one_strike_and_an_undone_one_takes_it_back(
    event: Any, case: dict[str, bool], seller: SellerRecord, expected: list[type[Any]]
) -> None:
    commands = strike_commands(event, facts(**case), seller, RULES)

    assert [type(c) for c in commands] == expected
    assert all(c.cause == cause_of(event) for c in commands)


def test_a_strike_expires_a_strike_lifetime_after_the_takedown_became_final() -> None:
    event = case_event(Case.DeadlineMissed, deadline=Deadline.COUNTER_NOTICE, at=MONDAY)

    (strike,) = strike_commands(event, facts(**FINAL), struck(), RULES)

    assert isinstance(strike, RecordStrike)
    assert (strike.upheld_at, strike.expires_at) == (MONDAY, MONDAY + timedelta(days=365))
    assert (strike.marketplace, strike.seller_ref, strike.case_id, strike.notice_id) == (
        "shop.example",
        "seller-1",
        CASE,
        NOTICE,
    )


def test_the_third_live_strike_suspends_the_seller() -> None:
    commands = strike_commands(CLOSED, facts(**FINAL), struck(uuid4(), uuid4()), RULES)

    assert [type(c) for c in commands] == [RecordStrike, SuspendSeller]
    suspend = commands[1]
    assert isinstance(suspend, SuspendSeller)
    assert (suspend.seller_id, suspend.live_strikes) == (SELLER_ID, 3)
    assert "suspend a seller for 180 days" in suspend.reason


def test_an_expired_strike_does_not_count_towards_a_suspension() -> None:
    old = MONDAY - timedelta(days=400)
    seller = struck(uuid4(), at=old)
    seller = seller.with_strike(uuid4(), MONDAY + timedelta(days=200))

    commands = strike_commands(CLOSED, facts(**FINAL), seller, RULES)

    assert [type(c) for c in commands] == [RecordStrike]


def test_the_strike_limit_is_policy() -> None:
    commands = strike_commands(CLOSED, facts(**FINAL), struck(), Rules(strikes_to_suspend=1))

    assert [type(c) for c in commands] == [RecordStrike, SuspendSeller]


def test_a_seller_record_ends_the_same_whatever_order_its_events_arrive_in() -> None:
    expires = MONDAY + timedelta(days=365)
    recorded = Seller.StrikeRecorded(
        originator_id=SELLER_ID,
        originator_version=2,
        timestamp=MONDAY,
        actor=AGENT,
        case_id=CASE,
        expires_at=expires,
    )
    removed = Seller.StrikeRemoved(
        originator_id=SELLER_ID,
        originator_version=3,
        timestamp=MONDAY,
        actor=AGENT,
        case_id=CASE,
        reason="Appeal upheld.",
    )
    empty = SellerRecord(SELLER_ID)

    in_order = empty.after(recorded).after(removed)
    reversed_order = empty.after(removed).after(recorded)
    twice = in_order.after(recorded).after(removed)

    assert in_order == reversed_order == twice
    assert in_order.strikes == {} and in_order.removed == {CASE}
    assert in_order.has_struck(CASE)


# -- the trusted lane -----------------------------------------------------------------------------


def tally(
    decided: int,
    taken: int,
    reversed_: int = 0,
    notices: int | None = None,
    settled: int | None = None,
) -> Tally:
    declined = decided - taken
    settled = decided if settled is None else settled
    return Tally(notices or decided, decided, taken, reversed_, declined, settled)


LATER = MONDAY + timedelta(days=10)


@pytest.mark.parametrize(
    ("standing", "figures", "expected"),
    [
        (Standing(NOTIFIER), tally(20, 19), AdmitToTrustedLane),
        (Standing(NOTIFIER), tally(20, 18), AdmitToTrustedLane),
        (Standing(NOTIFIER), tally(19, 19, notices=40), None),
        (Standing(NOTIFIER), tally(25, 25, settled=19), None),
        (Standing(NOTIFIER, in_lane=True), tally(25, 20, settled=19), None),
        (Standing(NOTIFIER), tally(20, 17), None),
        (Standing(NOTIFIER), tally(40, 40, reversed_=3), None),
        (Standing(NOTIFIER, may_reapply_on=LATER.date()), tally(20, 20), None),
        (Standing(NOTIFIER, may_reapply_on=MONDAY.date()), tally(20, 20), AdmitToTrustedLane),
        (Standing(NOTIFIER, in_lane=True), tally(20, 20), None),
        (Standing(NOTIFIER, in_lane=True), tally(20, 17), RemoveFromTrustedLane),
        (Standing(NOTIFIER, in_lane=True), tally(40, 40, reversed_=3), RemoveFromTrustedLane),
        (Standing(NOTIFIER, in_lane=True), tally(19, 10), None),
    ],
)
def test_the_trusted_lane_follows_the_trailing_shares_once_enough_decisions_settled(
    standing: Standing, figures: Tally, expected: type[Any] | None
) -> None:
    command = lane_command(standing, figures, MONDAY, RULES, "cause")

    assert type(command) is type(None) if expected is None else isinstance(command, expected)


def test_an_admission_carries_the_figures_that_justify_it() -> None:
    figures = tally(25, 24, 1, settled=21)

    command = lane_command(Standing(NOTIFIER), figures, MONDAY, RULES, "c:2")

    assert command == AdmitToTrustedLane(NOTIFIER, 23 / 25, 1 / 24, 21, "c:2")


def test_a_removal_says_which_share_failed_and_over_which_window() -> None:
    command = lane_command(
        Standing(NOTIFIER, in_lane=True), tally(40, 40, reversed_=3), MONDAY, RULES, "c:2"
    )

    assert isinstance(command, RemoveFromTrustedLane)
    assert command.reason.startswith("reversal share 7.5% is above 5% over the 91 days to ")


# -- misuse -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("warned", "decided", "declined", "expected"),
    [
        (False, 10, 3, WarnNotifier),
        (False, 10, 2, None),
        (False, 9, 9, None),
        (True, 10, 5, SuspendNotifier),
        (True, 10, 4, None),
        (True, 9, 9, None),
    ],
)
def test_unfounded_notices_bring_a_warning_then_a_suspension(
    warned: bool, decided: int, declined: int, expected: type[Any] | None
) -> None:
    standing = Standing(NOTIFIER, warned_at=MONDAY if warned else None)
    figures = Tally(decided, decided, decided - declined, 0, declined)

    command = misuse_command(standing, figures, RULES, "cause")

    assert type(command) is type(None) if expected is None else isinstance(command, expected)


def test_a_suspended_notifier_is_left_alone_until_its_suspension_ends() -> None:
    ledger = Ledger([facts(uuid4(), declined=True) for _ in range(10)])
    standing = Standing(NOTIFIER, suspended_until=MONDAY + timedelta(days=1))

    during = standing_commands(case_event(Case.Declined), standing, ledger, RULES)
    after = standing_commands(
        case_event(Case.Declined, at=MONDAY + timedelta(days=2)), standing, ledger, RULES
    )

    assert during == []
    assert after == []  # only notices filed after the suspension count towards the next warning


def test_only_notices_filed_after_the_warning_count_towards_a_suspension() -> None:
    before = [facts(uuid4(), MONDAY, declined=True) for _ in range(10)]
    since = [facts(uuid4(), MONDAY + timedelta(days=2), taken_down=True) for _ in range(10)]
    ledger = Ledger(before + since)
    standing = Standing(NOTIFIER, warned_at=MONDAY + timedelta(days=1))

    commands = standing_commands(
        case_event(Case.TakenDown, at=MONDAY + timedelta(days=3)), standing, ledger, RULES
    )

    assert commands == []


# -- deciding from a view -------------------------------------------------------------------------


class View:
    """A PolicyState over plain dicts."""

    def __init__(self, cases: list[CaseFacts], seller: SellerRecord, standing: Standing) -> None:
        self.cases = {c.case_id: c for c in cases}
        self.record, self.standing_ = seller, standing
        self.book = Ledger(cases)

    def case(self, case_id: UUID) -> CaseFacts | None:
        return self.cases.get(case_id)

    def seller(self, seller_id: UUID) -> SellerRecord:
        return self.record

    def standing(self, notifier_id: UUID) -> Standing:
        return self.standing_

    def ledger(self, notifier_id: UUID) -> Ledger:
        return self.book


def test_a_window_closing_that_completes_the_figures_gives_a_strike_and_an_admission() -> None:
    cases = [facts(uuid4(), **FINAL) for _ in range(19)] + [facts(**FINAL)]
    view = View(cases, struck(), Standing(NOTIFIER))

    commands = decide(CLOSED, view, RULES)

    assert [type(c) for c in commands] == [RecordStrike, AdmitToTrustedLane]


def test_takedowns_still_open_to_a_counter_notice_give_neither_strike_nor_admission() -> None:
    cases = [facts(uuid4(), **STOOD) for _ in range(24)] + [facts(**STOOD)]
    view = View(cases, struck(), Standing(NOTIFIER))

    assert decide(case_event(Case.TakenDown), view, RULES) == []


def test_an_event_of_a_case_the_view_never_saw_filed_decides_nothing() -> None:
    view = View([], struck(), Standing(NOTIFIER))

    assert decide(case_event(Case.TakenDown), view, RULES) == []


def test_a_cause_is_the_events_cloudevents_id() -> None:
    event = case_event(Case.TakenDown, version=7)

    assert cause_of(event) == event_id(CASE, 7) == f"{CASE}:7"


# -- standing and ledger ------------------------------------------------------------------------


def notifier_event(cls: type[Any], version: int, **fields: Any) -> Any:
    return cls(
        originator_id=NOTIFIER, originator_version=version, timestamp=MONDAY, actor=AGENT, **fields
    )


def test_a_standing_ignores_the_events_it_already_reflects() -> None:
    admitted = notifier_event(
        Notifier.AdmittedToTrustedLane,
        5,
        takedown_share=0.95,
        reversal_share=0.0,
        notices_considered=20,
    )
    removed = notifier_event(
        Notifier.RemovedFromTrustedLane, 6, reason="Reversals.", may_reapply_on=date(2031, 6, 2)
    )
    synced = Standing(NOTIFIER, version=6, may_reapply_on=date(2031, 6, 2))

    assert synced.after(admitted) == synced
    assert Standing(NOTIFIER, version=4).after(admitted).after(removed) == synced


def test_a_suspension_consumes_the_warning_and_leaves_the_lane() -> None:
    warned = notifier_event(Notifier.WarnedForMisuse, 2, reason="Unfounded.", unfounded_share=0.4)
    until = MONDAY + timedelta(days=30)
    suspended = notifier_event(Notifier.Suspended, 3, reason="Still.", until=until)

    standing = Standing(NOTIFIER, version=1, in_lane=True).after(warned)
    assert (standing.warned_at, standing.misuse_since) == (
        MONDAY,
        MONDAY + timedelta(microseconds=1),
    )
    standing = standing.after(suspended)
    assert (standing.in_lane, standing.warned_at, standing.misuse_since) == (False, None, until)


def test_a_ledger_counts_each_window_as_a_recount_would() -> None:
    rng = random.Random(3)
    ledger = Ledger()
    cases: dict[UUID, CaseFacts] = {}
    moment = MONDAY
    for _ in range(600):
        moment += timedelta(hours=rng.uniform(0, 20))
        roll = rng.random()
        if roll < 0.4 or not cases:
            case = facts(uuid4(), moment - timedelta(hours=rng.uniform(0, 30)))
        else:
            old = rng.choice(list(cases.values()))
            flags = ["taken_down", "declined", "reversed", "window_closed", "appeal_rejected"]
            flag = rng.choice(flags)
            case = replace(old, **{flag: True})
        cases[case.case_id] = case
        ledger.put(case)
        for name, days in (("lane", 91), ("short", rng.choice([5, 6, 30]))):
            start = moment - timedelta(days=days)
            expected = sum((counted(c) for c in cases.values() if c.filed_at >= start), Tally())
            assert ledger.figures(name, start) == expected


def test_a_lane_event_stored_before_causes_existed_replays_without_one() -> None:
    desk = make_desk()
    admitted = notifier_event(
        Notifier.AdmittedToTrustedLane,
        5,
        takedown_share=0.95,
        reversal_share=0.0,
        notices_considered=20,
    )
    payload = event_payload(admitted).replace(b',"cause":null', b"")
    assert b"cause" not in payload
    desk.app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=desk.notifier_id,
                originator_version=desk.app.notifier(desk.notifier_id, AGENT).version + 1,
                topic=get_topic(Notifier.AdmittedToTrustedLane),
                state=payload,
            )
        ]
    )

    notifier = desk.app.notifier(desk.notifier_id, AGENT)

    assert notifier.in_trusted_lane and notifier.causes == set()
    assert list(desk.app.events.get(desk.notifier_id))[-1].cause is None


# -- the guards that make a repeated command a no-op ------------------------------------------


def test_a_notifier_acts_on_one_cause_once() -> None:
    desk = make_desk()
    desk.app.warn_notifier(desk.notifier_id, "Unfounded.", 0.4, cause="c:1")
    stored = log_size(desk.app)

    with pytest.raises(NotifierAlreadyDone, match="already acted on for event c:1"):
        desk.app.warn_notifier(desk.notifier_id, "Unfounded.", 0.4, cause="c:1")
    with pytest.raises(AlreadyDone):
        desk.app.suspend_notifier(desk.notifier_id, "Unfounded.", cause="c:1")

    assert log_size(desk.app) == stored
    desk.app.suspend_notifier(desk.notifier_id, "Unfounded.", cause="c:2")
    assert desk.app.notifier(desk.notifier_id, AGENT).causes == {"c:1", "c:2"}


def test_a_lane_change_the_notifier_already_made_is_already_done() -> None:
    desk = make_desk(trusted=True)

    with pytest.raises(AlreadyDone, match="already in the trusted lane"):
        desk.trust()
    desk.app.remove_from_trusted_lane(desk.notifier_id, "Reversals.")
    with pytest.raises(AlreadyDone, match="is not in the trusted lane"):
        desk.app.remove_from_trusted_lane(desk.notifier_id, "Reversals.")


def test_a_case_gives_one_strike_ever_even_once_it_was_removed() -> None:
    desk = make_desk()
    desk.app.record_strike("shop.example", "seller-1", CASE)
    desk.app.remove_strike(SELLER_ID, CASE, "Appeal upheld.")

    with pytest.raises(SellerAlreadyDone, match="already had a strike for case .* since removed"):
        desk.app.record_strike("shop.example", "seller-1", CASE)
    with pytest.raises(SellerAlreadyDone, match="it was removed"):
        desk.app.remove_strike(SELLER_ID, CASE, "Twice.")
    with pytest.raises(SellerError) as never:
        desk.app.remove_strike(SELLER_ID, uuid4(), "Never struck.")
    assert not isinstance(never.value, AlreadyDone)


def test_a_strike_runs_from_when_the_takedown_was_upheld() -> None:
    desk = make_desk()
    upheld = MONDAY - timedelta(days=10)

    desk.app.record_strike("shop.example", "seller-1", CASE, upheld_at=upheld)

    strike = desk.app.seller(SELLER_ID, AGENT).strikes[CASE]
    assert (strike.recorded_at, strike.expires_at) == (MONDAY, upheld + timedelta(days=365))


def test_a_suspension_for_the_same_cause_is_already_done_and_another_one_refused() -> None:
    desk = make_desk()
    for _ in range(3):
        desk.app.record_strike("shop.example", "seller-1", uuid4())
    desk.app.suspend_seller(SELLER_ID, "Repeat infringer.", cause="c:1")

    with pytest.raises(SellerAlreadyDone, match="already acted on for event c:1"):
        desk.app.suspend_seller(SELLER_ID, "Again.", cause="c:1")
    with pytest.raises(SellerError, match="is already suspended") as other:
        desk.app.suspend_seller(SELLER_ID, "Again.", cause="c:2")
    assert not isinstance(other.value, AlreadyDone)
