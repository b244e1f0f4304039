"""`ntd consume policies` against the real Kafka and PostgreSQL: each command once, an expired
strike left out, and nothing issued again when the records come again. Strikes wait for final
takedowns and admissions for settled cases: a takedown's counter-notice window must close."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg2

from domain.case import Deadline
from domain.notice import parse_notice
from domain.notifier import Notifier
from domain.seller import Seller
from domain.values import SYSTEM
from ntd.bootstrap import FixedClock, Ntd, build, build_consumer, open_policy_store
from ntd.config import Settings
from tests.integration.history import AGENT, REASONS, START, USER, brand, notice
from tests.integration.test_consumers import relay_all


class Marketplace:
    """ntd on PostgreSQL fed from Kafka, one brand, and the policy consumer run on demand."""

    def __init__(self, settings: Settings) -> None:
        self.clock = FixedClock(START)
        self.ntd: Ntd = build(settings, clock=self.clock)
        self.notifier_id, self.right_id = brand(self.ntd.app, "Policy")
        self.filed = 0

    def file(self, seller: str) -> UUID:
        self.filed += 1
        data = notice(self.notifier_id, self.right_id, [f"P-{self.filed}"], self.filed)
        data["listings"][0]["seller_id"] = seller  # type: ignore[index]
        return self.ntd.app.file_notice(parse_notice(data), USER).cases[0].case_id

    def taken_down(self, seller: str) -> UUID:
        case_id = self.file(seller)
        self.ntd.app.take_down(case_id, REASONS, AGENT)
        return case_id

    def declined(self, seller: str) -> UUID:
        case_id = self.file(seller)
        self.ntd.app.decline(case_id, REASONS, AGENT)
        return case_id

    def close_windows(self, case_ids: list[UUID]) -> None:
        """Let the cases' counter-notice windows pass unused: the clock moves to the last one's
        close and the system records each closing, which makes the takedowns final."""
        app = self.ntd.app
        closes = [app.case(c, AGENT).deadlines[Deadline.COUNTER_NOTICE] for c in case_ids]
        self.clock.set(max(self.clock.now(), *closes))
        for case_id in case_ids:
            app.miss_deadline(case_id, Deadline.COUNTER_NOTICE, SYSTEM)

    def consume(self) -> int:
        """Relay what is stored, then run the policy consumer until it has read every record;
        returns how many events the policies' commands stored."""
        before = self.stored()
        relay_all(self.ntd)
        loop = build_consumer(self.ntd, "policies", lag_interval=60)
        try:
            loop.run(threading.Event(), until_caught_up=True)
        finally:
            loop.sink.close()
        return self.stored() - before

    def stored(self) -> int:
        return self.ntd.app.recorder.max_notification_id() or 0

    def events(self, cls: type[Any]) -> list[Any]:
        app = self.ntd.app
        notifications = app.recorder.select_notifications(start=1, limit=10**9)
        return [e for n in notifications if type(e := app.mapper.to_domain_event(n)) is cls]

    def forget_positions(self) -> None:
        """As if the stored offsets were lost: every record is delivered again."""
        connection = psycopg2.connect(self.ntd.settings.read_dsn)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute("DELETE FROM policy_offsets")
        finally:
            connection.close()

    def forget_everything(self) -> None:
        """As if the policy view had never been: the whole history is decided again."""
        store = open_policy_store(self.ntd.settings.read_dsn, 91)
        try:
            store.reset()
        finally:
            store.close()

    def close(self) -> None:
        self.ntd.close()


def test_a_seller_with_three_live_strikes_is_suspended_once_even_when_records_come_again(
    kafka_settings: Settings,
) -> None:
    market = Marketplace(kafka_settings)
    try:
        cases = [market.taken_down("repeat-seller") for _ in range(3)]  # three notices
        assert market.consume() == 0  # the seller may still counter-notice: no strike yet

        market.close_windows(cases)
        assert market.consume() == 5  # the seller's registration, 3 strikes, the suspension
        assert market.consume() == 0

        seller_id = Seller.id_for("mk", "repeat-seller")
        assert market.ntd.app.seller(seller_id, AGENT).suspended
        assert len(market.events(Seller.StrikeRecorded)) == 3
        assert len(market.events(Seller.Suspended)) == 1

        market.forget_positions()
        assert market.consume() == 0
        market.forget_everything()
        assert market.consume() == 0
        assert len(market.events(Seller.Suspended)) == 1
    finally:
        market.close()


def test_an_expired_strike_no_longer_counts_towards_a_suspension(kafka_settings: Settings) -> None:
    market = Marketplace(kafka_settings)
    try:
        market.close_windows([market.taken_down("seller-x")])  # its strike expires in a year
        market.consume()
        market.clock.set(START + timedelta(days=400))
        market.close_windows([market.taken_down("seller-x"), market.taken_down("seller-x")])

        market.consume()

        seller = market.ntd.app.seller(Seller.id_for("mk", "seller-x"), AGENT)
        assert (len(seller.strikes), seller.live_strikes(market.clock.now())) == (3, 2)
        assert not seller.suspended

        market.close_windows([market.taken_down("seller-x")])
        market.consume()
        assert len(market.events(Seller.Suspended)) == 1
        (suspended,) = market.events(Seller.Suspended)
        assert suspended.live_strikes == 3
    finally:
        market.close()


def test_a_notifier_crossing_the_thresholds_is_admitted_once_and_removed_once(
    kafka_settings: Settings,
) -> None:
    market = Marketplace(kafka_settings)
    try:
        taken = [market.taken_down(f"seller-{n}") for n in range(19)]
        market.declined("seller-d")

        market.consume()  # 20 decided, but only the declined one settled
        assert not market.ntd.app.notifier(market.notifier_id, AGENT).in_trusted_lane

        market.close_windows(taken)
        market.consume()

        notifier = market.ntd.app.notifier(market.notifier_id, AGENT)
        assert notifier.in_trusted_lane
        (admitted,) = market.events(Notifier.AdmittedToTrustedLane)
        assert (admitted.takedown_share, admitted.notices_considered) == (0.95, 20)

        fast = [market.file(f"fast-{n}") for n in range(5)]
        for case_id in fast[:2]:
            market.ntd.app.reverse_takedown(case_id, REASONS, AGENT)
        market.consume()

        assert not market.ntd.app.notifier(market.notifier_id, AGENT).in_trusted_lane
        (removed,) = market.events(Notifier.RemovedFromTrustedLane)
        assert "reversal share 8.3% is above 5%" in removed.reason

        market.forget_positions()
        assert market.consume() == 0
        market.forget_everything()
        assert market.consume() == 0
        assert len(market.events(Notifier.AdmittedToTrustedLane)) == 1
        assert len(market.events(Notifier.RemovedFromTrustedLane)) == 1
    finally:
        market.close()


def test_the_embedded_catch_up_runs_the_same_policies_on_postgresql(
    kafka_settings: Settings,
) -> None:
    settings = dataclasses.replace(kafka_settings, feed="log")
    market = Marketplace(settings)
    try:
        cases = [market.taken_down("log-seller") for _ in range(3)]
        market.ntd.catch_up()
        assert market.events(Seller.StrikeRecorded) == []  # the windows are still open

        market.close_windows(cases)
        market.ntd.catch_up()
        market.ntd.catch_up()

        assert market.ntd.policies is not None and market.ntd.policies.changed == 0
        assert len(market.events(Seller.StrikeRecorded)) == 3
        assert len(market.events(Seller.Suspended)) == 1
        head = market.stored()
        assert market.ntd.policy_store.position() == head == market.ntd.read_store.position()
    finally:
        market.close()
