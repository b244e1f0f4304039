"""The policies run from the notification log through the real application: each command once,
none again when events come twice, in memory and in SQL."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import pytest
from click.testing import CliRunner

from consumers.policies import PolicyReport, PolicyRunner, run_from_log
from domain.case import Deadline
from domain.catalog import aggregate_type
from domain.notifier import Notifier
from domain.rules import Rules
from domain.seller import Seller
from domain.values import SYSTEM, DomainEvent
from ntd.bootstrap import FixedClock, build
from ntd.cli import cli
from ntd.config import Settings
from projections.policy_sql import open_sql_policy_store
from projections.policy_view import MemoryPolicyStore, PolicyBatch, PolicyStore
from projections.tracking import Span, Tracked
from tests.unit.domain_fixtures import (
    ADMIN,
    AGENT,
    BRAND_USER,
    LONG_AFTER,
    SELLER,
    Desk,
    FakeClock,
    grant_cast,
    make_desk,
    reasons,
)

pytestmark = pytest.mark.fast

SELLER_ID = Seller.id_for("shop.example", "seller-1")


@dataclass
class World:
    """A brand's desk, the policy view, and a way to run the policies over the log."""

    desk: Desk
    store: PolicyStore
    cases: list[UUID] = field(default_factory=list)

    @property
    def app(self) -> Any:
        return self.desk.app

    @property
    def clock(self) -> FakeClock:
        return self.desk.clock

    @property
    def notifier_id(self) -> UUID:
        return self.desk.notifier_id

    def run(self) -> PolicyReport:
        return run_from_log(self.app, self.store, page_size=7)

    def events(self, cls: type[Any]) -> list[Any]:
        return [e for _, e in log(self.app) if type(e) is cls]

    def taken_down(self, listing: str | None = None, seller: str = "seller-1") -> UUID:
        case_id = self.file(listing, seller)
        self.app.take_down(case_id, reasons(), AGENT)
        return case_id

    def seller(self, seller_id: UUID = SELLER_ID) -> Seller:
        return cast(Seller, self.app.seller(seller_id, SYSTEM))

    def close_windows(self) -> None:
        """Let time pass beyond every deadline and close every counter-notice window still
        open, unused: each takedown that stands becomes final."""
        self.clock.set(self.clock.moment + timedelta(days=LONG_AFTER))
        for case_id in self.cases:
            if Deadline.COUNTER_NOTICE in self.desk.case(case_id).deadlines:
                self.app.miss_deadline(case_id, Deadline.COUNTER_NOTICE)

    def declined(self) -> UUID:
        case_id = self.file()
        self.app.decline(case_id, reasons(), AGENT)
        return case_id

    def file(self, listing: str | None = None, seller: str = "seller-1") -> UUID:
        self.desk.listings_filed += 1
        listing = listing or f"L-{self.desk.listings_filed}"
        data = self.desk.notice(listing).model_dump()
        data["listings"][0]["seller_id"] = seller
        from domain.notice import parse_notice

        case_id: UUID = self.app.file_notice(parse_notice(data), BRAND_USER).cases[0].case_id
        self.cases.append(case_id)
        return case_id


def log(app: Any) -> list[tuple[int, DomainEvent]]:
    """Every stored event with its notification id."""
    page = app.recorder.select_notifications(start=1, limit=100_000)
    return [(n.id, cast(DomainEvent, app.mapper.to_domain_event(n))) for n in page]


@pytest.fixture(params=["memory", pytest.param("sqlite", marks=pytest.mark.sqlite)])
def make_world(request: pytest.FixtureRequest) -> Iterator[Any]:
    stores: list[PolicyStore] = []

    def make(rules: Rules | None = None) -> World:
        rules = rules or Rules()
        days = rules.trusted_window_days
        store: PolicyStore = (
            MemoryPolicyStore(days)
            if request.param == "memory"
            else open_sql_policy_store("sqlite:///:memory:", days)
        )
        stores.append(store)
        return World(make_desk(rules=rules), store)

    yield make
    for store in stores:
        store.close()


# -- strikes and sellers -------------------------------------------------------------------------


def test_each_final_takedown_is_one_strike_and_the_third_suspends_the_seller_once(
    make_world: Any,
) -> None:
    world = make_world()
    for _ in range(3):
        world.taken_down()
    assert world.run().acted == {}  # the seller may still counter-notice

    world.close_windows()
    report = world.run()

    assert report.acted == {"RecordStrike": 3, "SuspendSeller": 1}
    seller = world.seller()
    assert seller.is_suspended(world.clock.moment) and seller.live_strikes(world.clock.moment) == 3
    (suspended,) = world.events(Seller.Suspended)
    assert suspended.until == world.clock.moment + timedelta(days=180)
    assert world.run().changed == 0

    world.taken_down()
    world.close_windows()
    assert world.run().changed == 0
    assert len(world.events(Seller.StrikeRecorded)) == 3


def test_a_fast_lane_takedown_is_a_strike_once_confirmed_and_its_window_closed(
    make_world: Any,
) -> None:
    world = make_world()
    world.desk.trust()
    confirmed_first, closed_first = world.file(), world.file()
    world.app.confirm_takedown(confirmed_first, reasons(), AGENT)
    world.run()
    assert world.events(Seller.StrikeRecorded) == []

    world.close_windows()
    world.run()
    assert [s.case_id for s in world.events(Seller.StrikeRecorded)] == [confirmed_first]

    world.app.confirm_takedown(closed_first, reasons(), AGENT)
    world.run()
    strikes = world.events(Seller.StrikeRecorded)
    assert [s.case_id for s in strikes] == [confirmed_first, closed_first]


def test_an_upheld_counter_notice_leaves_no_strike(make_world: Any) -> None:
    world = make_world()
    case_id = world.taken_down()
    world.run()
    world.app.counter_notice(case_id, "Genuine goods.", True, SELLER)
    world.app.uphold_appeal(case_id, reasons(), AGENT)

    assert world.run().acted == {}
    assert world.events(Seller.StrikeRecorded) == []


def test_a_rejected_appeal_is_a_strike_and_a_withdrawal_takes_it_back(make_world: Any) -> None:
    world = make_world()
    case_id = world.taken_down()
    world.app.counter_notice(case_id, "Genuine goods.", True, SELLER)
    world.app.reject_appeal(case_id, reasons(), AGENT)
    assert world.run().acted == {"RecordStrike": 1}

    world.app.withdraw(case_id, "Settled with the seller.", BRAND_USER)

    assert world.run().acted == {"RemoveStrike": 1}
    assert world.seller().live_strikes(world.clock.moment) == 0
    (removed,) = world.events(Seller.StrikeRemoved)
    assert removed.reason == "the notifier withdrew the notice"


def test_a_listing_restored_after_the_counter_notice_never_gives_a_strike(
    make_world: Any,
) -> None:
    world = make_world()
    case_id = world.taken_down()
    world.app.counter_notice(case_id, "Genuine goods.", True, SELLER)
    world.app.forward_to_notifier(case_id, AGENT)
    world.clock.advance(30)
    world.app.miss_deadline(case_id, Deadline.RESTORATION)

    assert world.run().acted == {}
    assert world.events(Seller.StrikeRecorded) == []


def test_an_expired_strike_no_longer_counts_towards_a_suspension(make_world: Any) -> None:
    world = make_world()
    world.taken_down()
    world.close_windows()
    world.run()
    world.clock.advance(400)
    world.taken_down()
    world.taken_down()
    world.close_windows()

    world.run()

    seller = world.seller()
    assert (len(seller.strikes), seller.live_strikes(world.clock.moment)) == (3, 2)
    assert not seller.suspended

    world.taken_down()
    world.close_windows()
    assert world.run().acted == {"RecordStrike": 1, "SuspendSeller": 1}
    assert world.seller().is_suspended(world.clock.moment)


# -- the trusted lane -----------------------------------------------------------------------------


def qualify(world: World, taken: int = 19, declined: int = 1) -> None:
    for n in range(taken):
        world.taken_down(seller=f"s-{world.desk.listings_filed}-{n}")
    for _ in range(declined):
        world.declined()


def test_a_notifier_crossing_the_thresholds_is_admitted_once_and_removed_once(
    make_world: Any,
) -> None:
    world = make_world()
    qualify(world)
    assert world.run().acted["AdmitToTrustedLane"] == 0  # windows still open: too few settled
    world.close_windows()

    assert world.run().acted["AdmitToTrustedLane"] == 1
    assert world.run().changed == 0
    (admitted,) = world.events(Notifier.AdmittedToTrustedLane)
    assert (admitted.takedown_share, admitted.reversal_share, admitted.notices_considered) == (
        0.95,
        0.0,
        20,
    )
    fast = [world.file(seller=f"fast-{n}") for n in range(5)]

    world.app.reverse_takedown(fast[0], reasons(), AGENT)
    assert world.run().acted["RemoveFromTrustedLane"] == 0
    world.app.reverse_takedown(fast[1], reasons(), AGENT)
    assert world.run().acted["RemoveFromTrustedLane"] == 1

    assert world.run().changed == 0
    (removed,) = world.events(Notifier.RemovedFromTrustedLane)
    assert "reversal share 8.3% is above 5%" in removed.reason
    assert len(world.events(Notifier.AdmittedToTrustedLane)) == 1
    assert not world.app.notifier(world.notifier_id, SYSTEM).in_trusted_lane


def test_a_removed_notifier_is_admitted_again_only_from_its_reapply_date(make_world: Any) -> None:
    world = make_world(Rules(trusted_reapply_days=180))
    qualify(world)
    world.close_windows()
    world.run()
    world.app.remove_from_trusted_lane(world.notifier_id, "Reviewed by the trust desk.")
    removed_at = world.clock.moment

    world.clock.set(removed_at + timedelta(days=100))
    qualify(world, taken=20, declined=0)
    world.close_windows()
    assert world.run().acted["AdmitToTrustedLane"] == 0

    world.clock.set(removed_at + timedelta(days=181))
    world.declined()
    assert world.run().acted["AdmitToTrustedLane"] == 1
    assert world.app.notifier(world.notifier_id, SYSTEM).in_trusted_lane


# -- misuse ---------------------------------------------------------------------------------------


def test_a_notifier_filing_unfounded_notices_is_warned_then_suspended_once(
    make_world: Any,
) -> None:
    world = make_world()
    qualify(world, taken=7, declined=3)
    assert world.run().acted == {"WarnNotifier": 1}

    world.clock.advance(1)
    qualify(world, taken=6, declined=4)
    assert world.run().acted["SuspendNotifier"] == 0
    world.declined()
    assert world.run().acted["SuspendNotifier"] == 0
    world.declined()
    assert world.run().acted["SuspendNotifier"] == 1

    assert world.run().changed == 0
    assert len(world.events(Notifier.WarnedForMisuse)) == 1
    (suspended,) = world.events(Notifier.Suspended)
    assert suspended.until == world.clock.moment + timedelta(days=30)
    assert "50.0% of 12 decided notices filed since" in suspended.reason


# -- redelivery -----------------------------------------------------------------------------------


class Crash(Exception):
    """The process died after the commands, before the position committed."""


def crash_after_commands(world: World) -> None:
    runner = PolicyRunner(world.app)
    batch = log(world.app)

    def react(event: DomainEvent, view: PolicyBatch) -> None:
        runner.react(event, view)
        if event is batch[-1][1]:
            raise Crash

    with pytest.raises(Crash):
        world.store.apply(batch, react)
    assert runner.report.changed > 0


def test_a_batch_redelivered_after_a_crash_issues_no_second_command(make_world: Any) -> None:
    world = make_world()
    qualify(world)
    for _ in range(3):
        world.taken_down()
    world.close_windows()
    crash_after_commands(world)
    stored = len(log(world.app))
    assert world.store.position() == 0

    again = world.run()

    assert again.changed == 0 and again.already > 0
    assert len(log(world.app)) == stored
    assert len(world.events(Notifier.AdmittedToTrustedLane)) == 1
    assert len(world.events(Seller.Suspended)) == 1


def test_replaying_every_event_into_an_empty_view_issues_nothing_new(make_world: Any) -> None:
    world = make_world()
    qualify(world, taken=7, declined=3)
    world.close_windows()
    world.run()
    upheld = world.taken_down()
    world.app.counter_notice(upheld, "Genuine goods.", True, SELLER)
    world.app.uphold_appeal(upheld, reasons(), AGENT)
    world.taken_down()
    world.taken_down()
    rejected = world.taken_down()
    world.app.counter_notice(rejected, "Genuine goods.", True, SELLER)
    world.app.reject_appeal(rejected, reasons(), AGENT)
    world.close_windows()
    world.run()
    world.app.withdraw(rejected, "Settled with the seller.", BRAND_USER)
    world.run()
    qualify(world)
    world.close_windows()
    world.run()
    assert [len(world.events(cls)) for cls in (Seller.Suspended, Seller.SuspensionLifted)] == [1, 1]
    stored = len(log(world.app))

    world.store.reset()
    replay = world.run()

    assert replay.changed == 0 and replay.already > 0
    assert len(log(world.app)) == stored


# -- embedded mode --------------------------------------------------------------------------------


def embedded(tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path, read_dsn=f"sqlite:///{tmp_path / 'read.db'}")
    ntd = build(settings, clock=FixedClock(FakeClock().moment))
    grant_cast(ntd.app)
    return ntd


@pytest.mark.sqlite  # the embedded system: SQLite stores in the data dir
def test_catching_up_runs_the_policies_and_projects_what_they_did(tmp_path: Path) -> None:
    ntd = embedded(tmp_path)
    try:
        world = World(Desk(ntd.app, cast(Any, ntd.clock), *_brand(ntd.app)), ntd.policy_store)
        qualify(world)
        world.close_windows()

        ntd.catch_up()

        assert ntd.policies is not None and ntd.policies.acted["AdmitToTrustedLane"] == 1
        (notifier,) = ntd.read_store.notifiers()
        assert notifier.in_trusted_lane
        assert ntd.read_store.position() == ntd.app.recorder.max_notification_id()
        assert ntd.policy_store.position() == ntd.app.recorder.max_notification_id()
    finally:
        ntd.close()


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("decided", "closed", "admitted"), [(19, True, False), (20, True, True), (25, False, False)]
)
def test_the_dashboard_and_the_policy_agree_on_the_trusted_lane_counting_settled_decisions(
    tmp_path: Path, decided: int, closed: bool, admitted: bool
) -> None:
    ntd = embedded(tmp_path)
    try:
        world = World(Desk(ntd.app, cast(Any, ntd.clock), *_brand(ntd.app)), ntd.policy_store)
        for n in range(25):  # all decided ones taken down; the rest await a decision
            world.taken_down() if n < decided else world.file()
        if closed:
            world.close_windows()

        ntd.catch_up()

        (notifier,) = ntd.read_store.notifiers()
        dashboard = ntd.read_store.dashboard(world.notifier_id, ntd.clock.now(), ntd.app.rules)
        trusted = dashboard.trusted
        assert (trusted.notices, trusted.decided) == (25, decided)
        assert trusted.settled == (decided if closed else 0)
        assert trusted.qualifies is admitted
        assert notifier.in_trusted_lane is admitted
    finally:
        ntd.close()


def _brand(app: Any) -> tuple[UUID, UUID]:
    from tests.unit.domain_fixtures import register_brand

    return register_brand(app)


@pytest.mark.sqlite
def test_ntd_policies_run_says_what_the_policies_did(tmp_path: Path) -> None:
    ntd = embedded(tmp_path)
    try:
        world = World(Desk(ntd.app, cast(Any, ntd.clock), *_brand(ntd.app)), ntd.policy_store)
        for _ in range(3):
            world.taken_down()
        world.close_windows()
    finally:
        ntd.close()
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("NTD_")}
    env |= {"NTD_DATA_DIR": str(tmp_path), "NTD_LOG_FORMAT": "json", "NTD_ACTOR": str(ADMIN)}

    first = CliRunner(env=env).invoke(cli, ["policies", "run"])
    second = CliRunner(env=env).invoke(cli, ["policies", "run", "--json"])

    assert first.exit_code == 0, first.output
    assert re.search(r"^  strikes recorded +3$", first.stdout, re.MULTILINE)
    assert re.search(r"^  sellers suspended +1$", first.stdout, re.MULTILINE)
    assert second.exit_code == 0 and '"acted": {}' in second.stdout


# -- events re-sent at new offsets ------------------------------------------------------------


def as_tracked(events: list[tuple[int, DomainEvent]]) -> list[Tracked]:
    """Published events on one partition per aggregate type, offsets in notification order."""
    offsets: dict[str, int] = {}
    tracked = []
    for seq, event in events:
        kind = aggregate_type(type(event))
        if kind is None:
            continue
        topic = f"ntd.{kind}.v1"
        tracked.append(Tracked(topic, 0, offsets.get(topic, 0), seq, event))
        offsets[topic] = offsets.get(topic, 0) + 1
    return tracked


def test_an_event_re_sent_at_a_new_offset_reaches_the_policies_once(make_world: Any) -> None:
    world = make_world()
    qualify(world)
    for _ in range(3):
        world.taken_down()
    world.close_windows()
    records = as_tracked(log(world.app))
    ends = {r.topic: r.offset + 1 for r in records}
    copies = []
    for r in records[-25:]:  # the relay's restart sends the tail again
        copies.append(Tracked(r.topic, 0, ends[r.topic], r.seq, r.event))
        ends[r.topic] += 1
    runner = PolicyRunner(world.app)
    seen: list[DomainEvent] = []

    def react(event: DomainEvent, view: PolicyBatch) -> None:
        seen.append(event)
        runner.react(event, view)

    first = world.store.apply_tracked(records, spans_of(records), react)
    again = world.store.apply_tracked(copies, spans_of(copies), react)

    assert (first.events, first.duplicates) == (len(records), 0)
    assert (again.events, again.duplicates) == (0, 25)
    assert len(seen) == len(records)
    assert runner.report.already == 0
    assert len(world.events(Seller.Suspended)) == 1


def test_an_event_past_a_missing_version_still_reaches_the_policies_and_is_counted(
    make_world: Any,
) -> None:
    world = make_world()
    world.taken_down()
    world.close_windows()
    records = as_tracked(log(world.app))
    missing = next(
        r
        for r in records
        if r.event.originator_id == world.notifier_id and r.event.originator_version == 2
    )
    batch = [r for r in records if r is not missing]  # the notifier's version 2 never arrives
    applied = world.store.apply_tracked(batch, spans_of(batch), PolicyRunner(world.app).react)
    assert (applied.events, applied.duplicates, applied.gaps) == (len(batch), 0, 1)
    assert len(world.events(Seller.StrikeRecorded)) == 1


def spans_of(records: list[Tracked]) -> dict[tuple[str, int], Span]:
    found: dict[tuple[str, int], Span] = {}
    for r in records:
        span = found.get(r.where)
        found[r.where] = Span(min(span.start, r.offset) if span else r.offset, r.offset + 1)
    return found
