"""Fair process (issue 12): strikes only for final takedowns and one per notice, suspensions
with a term that removed strikes lift, a trusted lane that waits for the counter-notice windows,
manual admissions on the record, and rights that stay rejected."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from consumers.policies import PolicyReport, run_from_log
from domain.case import Case, Deadline, Lane, Step
from domain.figures import CaseFacts
from domain.mapping import PydanticMapper, event_payload
from domain.notifier import (
    Notifier,
    NotifierAlreadyDone,
    NotifierError,
    NotifierKind,
    RightStatus,
)
from domain.policies import SellerRecord, Standing, strike_commands
from domain.policy_commands import LiftSellerSuspension, RecordStrike, RemoveStrike
from domain.rules import Rules
from domain.seller import Seller, SellerAlreadyDone, SellerError
from domain.values import SYSTEM, InvalidInput, RightType
from ntd.bootstrap import FixedClock, build
from ntd.config import Settings
from projections.policy_sql import open_sql_policy_store
from projections.policy_view import MemoryPolicyStore
from tests.unit.domain_fixtures import (
    AGENT,
    BRAND_USER,
    CERTIFICATE,
    LONG_AFTER,
    MONDAY,
    SELLER,
    Desk,
    grant_cast,
    make_desk,
    reasons,
    register_brand,
)

pytestmark = pytest.mark.fast

RULES = Rules()
SELLER_ID = Seller.id_for("shop.example", "seller-1")


@dataclass
class Policed:
    """A brand's desk with the policies running over its log (in memory)."""

    desk: Desk
    store: MemoryPolicyStore

    @property
    def app(self) -> Any:
        return self.desk.app

    def run(self) -> PolicyReport:
        return run_from_log(self.app, self.store)

    def taken_down(self, *listings: str) -> list[UUID]:
        """One notice about the listings (all of seller-1), every case taken down."""
        cases = [case.case_id for case in self.desk.file(*listings).cases]
        for case_id in cases:
            self.app.take_down(case_id, reasons(), AGENT)
        return cases

    def close_windows(self, cases: Iterable[UUID]) -> None:
        """Time passes, and the seller counter-notices none of the cases."""
        self.desk.clock.advance(LONG_AFTER)
        for case_id in cases:
            self.app.miss_deadline(case_id, Deadline.COUNTER_NOTICE)

    def events(self, cls: type[Any]) -> list[Any]:
        page = self.app.recorder.select_notifications(start=1, limit=100_000)
        found = (self.app.mapper.to_domain_event(n) for n in page)
        return [event for event in found if type(event) is cls]

    def seller(self) -> Seller:
        return self.desk.app.seller(SELLER_ID, SYSTEM)


def policed(rules: Rules | None = None) -> Policed:
    rules = rules or RULES
    return Policed(make_desk(rules=rules), MemoryPolicyStore(rules.trusted_window_days))


# -- 1. strikes: final takedowns only, one per notice -------------------------------------------


def test_a_notice_about_three_listings_of_a_seller_is_one_strike_once_the_windows_close() -> None:
    world = policed()
    cases = world.taken_down("L-1", "L-2", "L-3")

    assert world.run().acted == {}  # the seller may still counter-notice any of them
    assert world.events(Seller.StrikeRecorded) == []

    world.close_windows(cases)
    assert world.run().acted == {"RecordStrike": 1}

    (strike,) = world.events(Seller.StrikeRecorded)
    assert strike.notice_id == world.desk.case(cases[0]).notice_id
    seller = world.seller()
    assert seller.live_strikes(world.desk.clock.moment) == 1
    assert not seller.is_suspended(world.desk.clock.moment)
    assert world.events(Seller.Suspended) == []


def test_a_seller_refuses_a_second_strike_for_the_same_notice() -> None:
    seller = Seller.register("shop.example", "seller-1", SYSTEM, MONDAY)
    notice, expires = uuid4(), MONDAY + timedelta(days=365)
    seller.record_strike(uuid4(), expires, SYSTEM, MONDAY, notice_id=notice)

    first = next(iter(seller.strikes))
    with pytest.raises(SellerAlreadyDone, match=f"already has a strike for notice {notice}"):
        seller.record_strike(uuid4(), expires, SYSTEM, MONDAY, notice_id=notice)

    seller.record_strike(uuid4(), expires, SYSTEM, MONDAY, notice_id=uuid4())
    assert seller.live_strikes(MONDAY) == 2
    # once the notice's strike is removed, another final takedown of that notice may give one
    seller.remove_strike(first, "The takedown was withdrawn.", SYSTEM, MONDAY)
    seller.record_strike(uuid4(), expires, SYSTEM, MONDAY, notice_id=notice)
    assert seller.live_strikes(MONDAY) == 2


def event_of(cls: type[Any], at: Any = MONDAY, **fields: Any) -> Any:
    needs: dict[type[Any], dict[str, Any]] = {
        Case.TakenDown: {"lane": Lane.TRUSTED, "reasons": reasons(), "step": Step.TAKE_DOWN},
        Case.TakedownConfirmed: {"reasons": reasons()},
        Case.DeadlineMissed: {
            "deadline": Deadline.COUNTER_NOTICE,
            "step": Step.CLOSE_APPEAL_WINDOW,
            "due_at": at,
        },
    }
    return cls(
        originator_id=uuid4(),
        originator_version=3,
        timestamp=at,
        actor=AGENT,
        **{**needs.get(cls, {}), **fields},
    )


@pytest.mark.parametrize("confirmed_first", [True, False])
def test_a_fast_lane_takedown_strikes_when_the_later_of_confirmation_and_window_closing_comes(
    confirmed_first: bool,
) -> None:
    facts = CaseFacts(uuid4(), uuid4(), "shop.example", "seller-1", MONDAY, notice_id=uuid4())
    facts = facts.after(event_of(Case.TakenDown))
    confirm = event_of(Case.TakedownConfirmed, at=MONDAY + timedelta(days=1))
    close = event_of(Case.DeadlineMissed, at=MONDAY + timedelta(days=14))
    first, last = (confirm, close) if confirmed_first else (close, confirm)

    facts = facts.after(first)
    assert strike_commands(first, facts, SellerRecord(SELLER_ID), RULES) == []
    facts = facts.after(last)
    (strike,) = strike_commands(last, facts, SellerRecord(SELLER_ID), RULES)

    assert isinstance(strike, RecordStrike)
    assert strike.upheld_at == last.timestamp


def test_strikes_stored_before_they_named_a_notice_still_replay() -> None:
    stored = Seller.StrikeRecorded(
        originator_id=SELLER_ID,
        originator_version=2,
        timestamp=MONDAY,
        actor=SYSTEM,
        case_id=uuid4(),
        expires_at=MONDAY + timedelta(days=365),
    )
    suspended = Seller.Suspended(
        originator_id=SELLER_ID,
        originator_version=3,
        timestamp=MONDAY,
        actor=SYSTEM,
        reason="3 live strikes.",
        live_strikes=3,
    )
    old: list[tuple[Any, bytes]] = [
        (stored, b',"notice_id":null'),
        (suspended, b',"until":null'),
    ]
    mapper = PydanticMapper(transcoder=None)  # type: ignore[arg-type]
    replayed: list[Any] = []
    for event, new_field in old:
        payload = event_payload(event).replace(new_field, b"").replace(b',"cause":null', b"")
        assert new_field not in payload
        topic = get_topic(type(event))
        state = StoredEvent(SELLER_ID, event.originator_version, topic, payload)
        replayed.append(mapper.to_domain_event(state))
    seller = Seller.register("shop.example", "seller-1", SYSTEM, MONDAY)
    for stored_event in replayed:
        stored_event.mutate(seller)

    assert [s.notice_id for s in seller.strikes.values()] == [None]
    assert seller.is_suspended(MONDAY + timedelta(days=3650))  # no term: until lifted


# -- 2. suspension: a term, and lifted when removed strikes leave too few ----------------------


def suspended_seller(world: Policed) -> list[UUID]:
    """Three notices about seller-1 taken down, the third upheld on appeal; suspended."""
    first, second = world.taken_down(), world.taken_down()
    (appealed,) = world.taken_down()
    world.app.counter_notice(appealed, "Genuine goods.", True, SELLER)
    world.app.reject_appeal(appealed, reasons(), AGENT)
    world.close_windows([*first, *second])
    assert world.run().acted == {"RecordStrike": 3, "SuspendSeller": 1}
    return [*first, *second, appealed]


def test_a_suspension_runs_for_its_term_and_then_the_seller_may_be_struck_again() -> None:
    world = policed()
    suspended_seller(world)
    (suspension,) = world.events(Seller.Suspended)
    assert suspension.until == suspension.timestamp + timedelta(days=180)
    assert world.seller().is_suspended(suspension.until - timedelta(seconds=1))

    world.close_windows(world.taken_down())  # while suspended: no strike
    assert world.run().acted == {}

    world.desk.clock.set(suspension.until + timedelta(days=1))
    assert not world.seller().is_suspended(world.desk.clock.moment)
    world.close_windows(world.taken_down())

    assert world.run().acted == {"RecordStrike": 1, "SuspendSeller": 1}
    assert len(world.events(Seller.Suspended)) == 2


def test_a_removed_strike_that_leaves_too_few_lifts_the_suspension_saying_why() -> None:
    world = policed()
    appealed = suspended_seller(world)[-1]

    world.app.withdraw(appealed, "Settled with the seller.", BRAND_USER)

    assert world.run().acted == {"RemoveStrike": 1, "LiftSellerSuspension": 1}
    (lifted,) = world.events(Seller.SuspensionLifted)
    assert f"the strike of case {appealed} was removed" in lifted.reason
    assert "the notifier withdrew the notice" in lifted.reason
    assert "2 live strikes are fewer than the 3" in lifted.reason
    assert not world.seller().is_suspended(world.desk.clock.moment)
    assert world.run().changed == 0


def test_a_supervisor_lifts_a_suspension_with_a_reason_and_the_policies_agree() -> None:
    world = policed()
    suspended_seller(world)

    world.app.lift_seller_suspension(SELLER_ID, "Reviewed: the seller fixed its sourcing.", AGENT)

    (lifted,) = world.events(Seller.SuspensionLifted)
    assert (lifted.reason, lifted.cause, lifted.actor.principal) == (
        "Reviewed: the seller fixed its sourcing.",
        None,
        AGENT,
    )
    assert not world.seller().is_suspended(world.desk.clock.moment)
    with pytest.raises(SellerAlreadyDone, match="is not suspended"):
        world.app.lift_seller_suspension(SELLER_ID, "Again.", AGENT)
    assert world.run().changed == 0
    assert not world.store.sellers[SELLER_ID].is_suspended(world.desk.clock.moment)


def test_a_removed_strike_that_leaves_enough_does_not_lift_the_suspension() -> None:
    record = SellerRecord(SELLER_ID).with_suspension("c:9", MONDAY + timedelta(days=180))
    cases = [uuid4() for _ in range(4)]
    for case_id in cases:
        record = record.with_strike(case_id, MONDAY + timedelta(days=365))
    withdrawn = event_of(Case.Withdrawn, reason="Settled.")
    facts = CaseFacts(cases[0], uuid4(), "shop.example", "seller-1", MONDAY)

    commands = strike_commands(withdrawn, facts, record, RULES)
    lifting = strike_commands(withdrawn, facts, record.without_strike(cases[1]), RULES)

    assert [type(c) for c in commands] == [RemoveStrike]
    assert [type(c) for c in lifting] == [RemoveStrike, LiftSellerSuspension]


def test_lifting_refuses_a_seller_that_is_not_suspended_and_a_cause_twice() -> None:
    seller = Seller.register("shop.example", "seller-1", SYSTEM, MONDAY)
    for _ in range(3):
        seller.record_strike(uuid4(), MONDAY + timedelta(days=365), SYSTEM, MONDAY)

    with pytest.raises(SellerError, match="is not suspended"):
        seller.lift_suspension("Too early.", AGENT, MONDAY)
    until = MONDAY + timedelta(days=180)
    seller.suspend("Repeat infringer.", SYSTEM, MONDAY, 3, until=until, cause="c:1")
    seller.lift_suspension("Strike removed.", SYSTEM, MONDAY, cause="c:2")
    with pytest.raises(SellerAlreadyDone, match="already acted on for event c:2"):
        seller.lift_suspension("Again.", SYSTEM, MONDAY, cause="c:2")
    with pytest.raises(SellerAlreadyDone, match="already acted on for event c:1"):
        seller.suspend("Again.", SYSTEM, MONDAY, 3, until=until, cause="c:1")

    assert not seller.is_suspended(MONDAY)


def test_a_seller_record_tells_suspensions_apart_whatever_order_their_events_come_in() -> None:
    def seller_event(cls: type[Any], version: int, **fields: Any) -> Any:
        return cls(
            originator_id=SELLER_ID,
            originator_version=version,
            timestamp=MONDAY,
            actor=SYSTEM,
            **fields,
        )

    until = MONDAY + timedelta(days=180)
    first = seller_event(Seller.Suspended, 5, reason="3.", live_strikes=3, until=until, cause="a")
    lifted = seller_event(Seller.SuspensionLifted, 6, reason="2.", suspension="a", cause="b")
    again = seller_event(Seller.Suspended, 9, reason="3.", live_strikes=3, until=until, cause="c")
    empty = SellerRecord(SELLER_ID)

    in_order = empty.after(first).after(lifted).after(again)
    shuffled = empty.after(again).after(lifted).after(first).after(lifted)

    assert in_order == shuffled
    assert in_order.is_suspended(MONDAY)
    assert not empty.after(first).after(lifted).is_suspended(MONDAY)


# -- 3. the trusted lane waits for the counter-notice windows -----------------------------------


def test_a_brand_whose_one_25_listing_notice_is_taken_down_in_a_day_is_not_admitted_that_day() -> (
    None
):
    world = policed()
    cases = world.taken_down(*(f"L-{n}" for n in range(25)))

    assert world.run().acted == {}
    assert not world.app.notifier(world.desk.notifier_id, SYSTEM).in_trusted_lane

    world.close_windows(cases)
    assert world.run().acted == {"RecordStrike": 1, "AdmitToTrustedLane": 1}
    (admitted,) = world.events(Notifier.AdmittedToTrustedLane)
    assert admitted.notices_considered == 20  # admitted at the 20th settled decision


@pytest.mark.parametrize(
    ("events", "settled"),
    [
        ([Case.Declined], True),
        ([Case.TakenDown], False),
        ([Case.TakenDown, "closed"], True),
        ([Case.TakenDown, Case.CounterNoticed], False),
        ([Case.TakenDown, Case.CounterNoticed, Case.AppealRejected], True),
        ([Case.TakenDown, Case.CounterNoticed, Case.AppealUpheld], True),
        ([Case.TakenDown, Case.CounterNoticed, "restored"], True),
        ([Case.TakenDown, Case.Withdrawn], False),
    ],
)
def test_a_decision_counts_for_the_lane_once_its_counter_notice_window_is_behind_it(
    events: list[Any], settled: bool
) -> None:
    extra: dict[Any, dict[str, Any]] = {
        Case.TakenDown: {"lane": Lane.NORMAL},
        Case.Declined: {"reasons": reasons()},
        Case.CounterNoticed: {"statement": "Mine.", "consents_to_jurisdiction": True},
        Case.AppealRejected: {"reasons": reasons()},
        Case.AppealUpheld: {"reasons": reasons()},
        Case.Withdrawn: {"reason": "Settled."},
        "closed": {},
        "restored": {"deadline": Deadline.RESTORATION, "step": Step.RESTORE_AFTER_FORWARDING},
    }
    facts = CaseFacts(uuid4(), uuid4(), "shop.example", "seller-1", MONDAY)
    for kind in events:
        cls = Case.DeadlineMissed if isinstance(kind, str) else kind
        facts = facts.after(event_of(cls, **extra[kind]))

    assert facts.settled is settled


def registered(at: Any = MONDAY) -> Notifier:
    return Notifier.register("Acme", NotifierKind.BRAND, "legal@acme.example", AGENT, at)


def test_a_supervisor_admits_by_hand_with_a_reason_the_record_keeps() -> None:
    notifier = registered()

    notifier.admit_manually("Long-standing brand; audited.", AGENT, MONDAY)

    assert notifier.in_trusted_lane
    event = notifier.collect_events()[-1]
    assert type(event) is Notifier.ManuallyAdmittedToTrustedLane
    assert (event.reason, event.actor) == ("Long-standing brand; audited.", AGENT)
    assert Standing(notifier.id).after(event).in_lane


@pytest.mark.sqlite  # the embedded system: SQLite stores in the data dir
def test_a_manual_admission_puts_the_notifier_in_the_lane_for_the_policies_and_the_views(
    tmp_path: Path,
) -> None:
    ntd = build(
        Settings(data_dir=tmp_path, read_dsn=f"sqlite:///{tmp_path / 'read.db'}"),
        clock=FixedClock(MONDAY),
    )
    try:
        grant_cast(ntd.app)
        notifier_id, _ = register_brand(ntd.app)

        ntd.app.admit_manually(notifier_id, "Long-standing brand; audited.", AGENT)
        ntd.catch_up()

        assert ntd.app.notifier(notifier_id, AGENT).in_trusted_lane
        (summary,) = ntd.read_store.notifiers()
        assert summary.in_trusted_lane
        assert ntd.policy_store.position() == ntd.app.recorder.max_notification_id()
    finally:
        ntd.close()


def test_a_manual_admission_meets_the_lanes_other_guards() -> None:
    notifier = registered()
    notifier.admit_manually("Audited.", AGENT, MONDAY)
    with pytest.raises(NotifierAlreadyDone, match="already in the trusted lane"):
        notifier.admit_manually("Again.", AGENT, MONDAY)

    reapply = (MONDAY + timedelta(days=91)).date()
    notifier.remove_from_trusted_lane("Reversals.", reapply, SYSTEM, MONDAY)
    with pytest.raises(NotifierError, match=f"may re-apply to the trusted lane on {reapply}"):
        notifier.admit_manually("Audited again.", AGENT, MONDAY + timedelta(days=1))

    later = MONDAY + timedelta(days=100)
    notifier.warn_for_misuse("Unfounded.", 0.4, SYSTEM, later)
    notifier.suspend("Unfounded.", later + timedelta(days=30), SYSTEM, later)
    with pytest.raises(NotifierError, match="is suspended until"):
        notifier.admit_manually("Audited again.", AGENT, later)
    with pytest.raises(InvalidInput, match="invalid ManuallyAdmittedToTrustedLane: reason"):
        notifier.admit_manually("", AGENT, later + timedelta(days=31))


# -- 4. a rejected right stays rejected ---------------------------------------------------------


def with_right(notifier: Notifier) -> UUID:
    return notifier.register_right(RightType.TRADEMARK, "TM-1", "eu", CERTIFICATE, AGENT, MONDAY)


def test_a_rejected_right_cannot_be_verified_or_rejected_again() -> None:
    notifier = registered()
    right_id = with_right(notifier)
    notifier.reject_right(right_id, "Certificate expired.", AGENT, MONDAY)

    refused = f"right {right_id} of notifier {notifier.id} was rejected: a new submission is a new"
    with pytest.raises(NotifierError, match=refused):
        notifier.verify_right(right_id, AGENT, MONDAY)
    with pytest.raises(NotifierError, match="was rejected"):
        notifier.reject_right(right_id, "Twice.", AGENT, MONDAY)

    assert notifier.right(right_id).status is RightStatus.REJECTED


def test_a_right_submitted_again_after_a_rejection_is_a_new_right_with_its_own_id() -> None:
    notifier = registered()
    first = with_right(notifier)
    notifier.reject_right(first, "Certificate expired.", AGENT, MONDAY)

    second = with_right(notifier)
    with pytest.raises(
        NotifierError, match=f"already registered trademark TM-1 in EU as right {second}"
    ):
        with_right(notifier)
    notifier.reject_right(second, "Still expired.", AGENT, MONDAY)
    third = with_right(notifier)
    notifier.verify_right(third, AGENT, MONDAY)

    ids = [
        Notifier.right_id_for(notifier.id, RightType.TRADEMARK, "TM-1", "EU", n) for n in range(3)
    ]
    assert [first, second, third] == ids
    assert first == Notifier.right_id_for(notifier.id, RightType.TRADEMARK, "TM-1", "EU")
    statuses = [notifier.right(r).status for r in (first, second, third)]
    assert statuses == [RightStatus.REJECTED, RightStatus.REJECTED, RightStatus.VERIFIED]


# -- the policy view written before these rules ---------------------------------------------------


@pytest.mark.sqlite
def test_a_policy_view_written_before_gains_the_new_columns_and_keeps_a_suspension(
    tmp_path: Path,
) -> None:
    path = tmp_path / "read.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE policy_sellers (seller_id VARCHAR(36) PRIMARY KEY,"
            " suspended SMALLINT NOT NULL, strikes TEXT NOT NULL, removed TEXT NOT NULL)"
        )
        old.execute(
            "CREATE TABLE policy_cases (case_id VARCHAR(36) PRIMARY KEY,"
            " notifier_id VARCHAR(36) NOT NULL, marketplace TEXT NOT NULL,"
            " seller_ref TEXT NOT NULL, filed_at VARCHAR(32) NOT NULL,"
            " taken_down SMALLINT NOT NULL, declined SMALLINT NOT NULL,"
            " reversed SMALLINT NOT NULL)"
        )
        old.execute("INSERT INTO policy_sellers VALUES (?, 1, '{}', '[]')", (str(SELLER_ID),))
    store = open_sql_policy_store(f"sqlite:///{path}", 91)
    seen: list[SellerRecord] = []

    def react(event: Any, view: Any) -> None:
        seen.append(view.seller(SELLER_ID))

    try:
        store.apply([(1, event_of(Case.Withdrawn, reason="Settled."))], react)
    finally:
        store.close()

    (record,) = seen
    assert record.is_suspended(MONDAY + timedelta(days=3650))  # as before: until lifted
    assert record.notices == {} and record.lifted == frozenset()
