"""Notifiers (rights, trusted lane, misuse) and sellers (strikes, suspension)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from domain.application import NtdApplication
from domain.notice import NoticeRefused, parse_notice
from domain.notifier import Notifier, NotifierError, NotifierKind, RightStatus
from domain.rules import Rules
from domain.seller import Seller, SellerError
from domain.values import SYSTEM, DomainError, InvalidInput, RightType
from tests.unit.domain_fixtures import (
    AGENT,
    BRAND_USER,
    CERTIFICATE,
    Desk,
    FakeClock,
    log_size,
    make_app,
    make_desk,
    notice_data,
)

pytestmark = pytest.mark.fast

# -- notifiers and their rights -------------------------------------------------------------------


def test_a_registered_notifier_starts_with_no_rights_no_lane_and_no_record() -> None:
    app = make_app()
    notifier_id = app.register_notifier("Acme", NotifierKind.BRAND, "legal@acme.example", AGENT)

    notifier = app.notifier(notifier_id, AGENT)

    assert (notifier.name, notifier.kind) == ("Acme", NotifierKind.BRAND)
    assert notifier.rights == {}
    assert not notifier.in_trusted_lane
    assert (notifier.warnings, notifier.suspended_until) == (0, None)


def test_a_notifier_id_cannot_be_registered_twice() -> None:
    app = make_app()
    notifier_id = uuid4()
    app.register_notifier("Acme", NotifierKind.BRAND, "a@acme.example", AGENT, notifier_id)

    with pytest.raises(DomainError, match=f"notifier {notifier_id} is already registered"):
        app.register_notifier("Acme", NotifierKind.AGENT, "b@acme.example", AGENT, notifier_id)


def test_a_right_awaits_verification_before_it_can_back_a_notice() -> None:
    desk = make_desk()
    right_id = desk.app.register_right(
        desk.notifier_id, RightType.COPYRIGHT, "VA-1-234", "us", "AB" * 32, AGENT
    )

    right = desk.app.notifier(desk.notifier_id, AGENT).right(right_id)
    assert right.status is RightStatus.PENDING
    assert (right.jurisdiction, right.certificate_sha256) == ("US", "ab" * 32)
    same = Notifier.right_id_for(desk.notifier_id, RightType.COPYRIGHT, "VA-1-234", "us")
    assert right_id == same

    desk.app.verify_right(desk.notifier_id, right_id, AGENT)
    assert desk.app.notifier(desk.notifier_id, AGENT).right(right_id).status is RightStatus.VERIFIED


def test_the_same_right_cannot_be_registered_twice() -> None:
    desk = make_desk()

    with pytest.raises(NotifierError, match="already registered trademark TM-Acme in EU"):
        desk.app.register_right(
            desk.notifier_id, RightType.TRADEMARK, "TM-Acme", "Eu", CERTIFICATE, AGENT
        )


def test_rights_that_read_alike_when_joined_with_a_bar_are_two_rights() -> None:
    desk = make_desk()
    register = desk.app.register_right

    one = register(desk.notifier_id, RightType.TRADEMARK, "TM|1", "EU", CERTIFICATE, AGENT)
    other = register(desk.notifier_id, RightType.TRADEMARK, "TM", "1|EU", CERTIFICATE, AGENT)

    rights = desk.app.notifier(desk.notifier_id, AGENT).rights
    assert one != other
    assert (rights[one].registration_number, rights[other].registration_number) == ("TM|1", "TM")


def test_a_right_with_a_malformed_certificate_hash_is_refused_and_nothing_saved() -> None:
    desk = make_desk()
    stored = log_size(desk.app)

    with pytest.raises(InvalidInput, match="invalid RightRegistered: certificate_sha256"):
        desk.app.register_right(desk.notifier_id, RightType.DESIGN, "D-1", "eu", "xyz", AGENT)

    assert log_size(desk.app) == stored


def test_a_verified_right_cannot_be_verified_again() -> None:
    desk = make_desk()

    with pytest.raises(NotifierError, match="is already verified"):
        desk.app.verify_right(desk.notifier_id, desk.right_id, AGENT)


def test_an_unknown_right_cannot_be_verified_or_rejected() -> None:
    desk = make_desk()
    unknown = uuid4()

    with pytest.raises(NotifierError, match=f"has no right {unknown}"):
        desk.app.verify_right(desk.notifier_id, unknown, AGENT)
    with pytest.raises(NotifierError, match=f"has no right {unknown}"):
        desk.app.reject_right(desk.notifier_id, unknown, "No such right.", AGENT)


def test_a_rejected_right_carries_its_reason_and_stays_rejected() -> None:
    desk = make_desk()

    desk.app.reject_right(desk.notifier_id, desk.right_id, "Certificate expired.", AGENT)
    right = desk.app.notifier(desk.notifier_id, AGENT).right(desk.right_id)
    assert (right.status, right.rejection_reason) == (RightStatus.REJECTED, "Certificate expired.")

    with pytest.raises(NotifierError, match="was rejected: a new submission is a new right"):
        desk.app.verify_right(desk.notifier_id, desk.right_id, AGENT)
    right = desk.app.notifier(desk.notifier_id, AGENT).right(desk.right_id)
    assert (right.status, right.rejection_reason) == (RightStatus.REJECTED, "Certificate expired.")


def test_an_unknown_notifier_is_not_found() -> None:
    app = make_app()

    with pytest.raises(DomainError, match="no notifier"):
        app.verify_right(uuid4(), uuid4(), AGENT)


# -- the trusted lane -----------------------------------------------------------------------------


def test_a_notifier_admitted_to_the_trusted_lane_cannot_be_admitted_twice() -> None:
    desk = make_desk(trusted=True)
    assert desk.app.notifier(desk.notifier_id, AGENT).in_trusted_lane

    with pytest.raises(NotifierError, match="already in the trusted lane"):
        desk.trust()


@pytest.mark.parametrize(
    ("takedown", "reversal", "notices", "shortfall"),
    [
        (0.89, 0.01, 40, "takedown share 89.0% is below 90%"),
        (0.95, 0.06, 40, "reversal share 6.0% is above 5%"),
        (0.95, 0.01, 19, "19 decided notices past their counter-notice window is fewer than 20"),
    ],
)
def test_a_notifier_whose_figures_miss_a_threshold_is_not_admitted(
    takedown: float, reversal: float, notices: int, shortfall: str
) -> None:
    desk = make_desk()
    stored = log_size(desk.app)

    with pytest.raises(DomainError, match=shortfall):
        desk.app.admit_to_trusted_lane(desk.notifier_id, takedown, reversal, notices)

    assert log_size(desk.app) == stored


def test_an_empty_reason_is_refused_as_invalid_input_naming_the_field() -> None:
    desk = make_desk()

    with pytest.raises(InvalidInput, match="invalid WarnedForMisuse: reason"):
        desk.app.warn_notifier(desk.notifier_id, "", 0.4)


def test_the_admission_records_the_figures_that_justify_it() -> None:
    desk = make_desk(trusted=True)

    admitted = desk.app.repository.get(desk.notifier_id)
    event = list(desk.app.events.get(desk.notifier_id))[-1]

    assert admitted.in_trusted_lane
    assert type(event) is Notifier.AdmittedToTrustedLane
    assert (event.takedown_share, event.reversal_share, event.notices_considered) == (
        0.95,
        0.01,
        40,
    )
    assert event.actor == SYSTEM


def test_a_notifier_removed_from_the_lane_may_reapply_only_after_the_policy_period() -> None:
    desk = make_desk(trusted=True)
    removed_at = desk.clock.moment

    desk.app.remove_from_trusted_lane(desk.notifier_id, "Reversal share 8 %.")

    notifier = desk.app.notifier(desk.notifier_id, AGENT)
    reapply_on = (removed_at + timedelta(days=91)).date()
    assert not notifier.in_trusted_lane
    assert notifier.may_reapply_on == reapply_on

    desk.clock.set(removed_at + timedelta(days=90))
    with pytest.raises(NotifierError, match=f"may re-apply to the trusted lane on {reapply_on}"):
        desk.trust()

    desk.clock.set(removed_at + timedelta(days=91))
    desk.trust()
    notifier = desk.app.notifier(desk.notifier_id, AGENT)
    assert notifier.in_trusted_lane
    assert notifier.may_reapply_on is None


def test_the_reapply_period_is_policy() -> None:
    desk = make_desk(rules=Rules(trusted_reapply_days=7), trusted=True)

    desk.app.remove_from_trusted_lane(desk.notifier_id, "Takedown share 80 %.")

    reapply_on = (desk.clock.moment + timedelta(days=7)).date()
    assert desk.app.notifier(desk.notifier_id, AGENT).may_reapply_on == reapply_on


def test_a_notifier_outside_the_lane_cannot_be_removed_from_it() -> None:
    desk = make_desk()

    with pytest.raises(NotifierError, match="is not in the trusted lane"):
        desk.app.remove_from_trusted_lane(desk.notifier_id, "No.")


# -- misuse (DSA Art. 23) --------------------------------------------------------------------------


def test_a_notifier_cannot_be_suspended_before_it_was_warned() -> None:
    desk = make_desk()
    stored = log_size(desk.app)

    with pytest.raises(NotifierError, match="must be warned before it is suspended"):
        desk.app.suspend_notifier(desk.notifier_id, "Unfounded notices.")

    assert log_size(desk.app) == stored


def test_a_warned_notifier_is_suspended_for_the_policy_period() -> None:
    desk = make_desk()
    desk.app.warn_notifier(desk.notifier_id, "40 % of notices unfounded.", 0.4)
    assert desk.app.notifier(desk.notifier_id, AGENT).warnings == 1

    desk.app.suspend_notifier(desk.notifier_id, "Still 55 % unfounded.")

    notifier = desk.app.notifier(desk.notifier_id, AGENT)
    assert notifier.suspended_until == desk.clock.moment + timedelta(days=30)
    assert notifier.is_suspended(desk.clock.moment + timedelta(days=29))
    assert not notifier.is_suspended(desk.clock.moment + timedelta(days=30))


def test_a_suspension_may_be_given_its_own_length() -> None:
    desk = make_desk()
    desk.app.warn_notifier(desk.notifier_id, "Unfounded.", 0.4)

    desk.app.suspend_notifier(desk.notifier_id, "Unfounded.", days=90)

    until = desk.app.notifier(desk.notifier_id, AGENT).suspended_until
    assert until == desk.clock.moment + timedelta(days=90)


def test_a_suspended_notifier_leaves_the_trusted_lane_and_cannot_rejoin_while_suspended() -> None:
    desk = make_desk(trusted=True)
    desk.app.warn_notifier(desk.notifier_id, "Unfounded.", 0.4)
    desk.app.suspend_notifier(desk.notifier_id, "Unfounded.")
    assert not desk.app.notifier(desk.notifier_id, AGENT).in_trusted_lane

    with pytest.raises(NotifierError, match="is suspended until"):
        desk.trust()


def test_a_suspended_notifier_cannot_file() -> None:
    desk = make_desk()
    desk.app.warn_notifier(desk.notifier_id, "Unfounded.", 0.4)
    desk.app.suspend_notifier(desk.notifier_id, "Unfounded.")
    stored = log_size(desk.app)

    with pytest.raises(NoticeRefused, match="notifier_id: notifier is suspended until"):
        desk.app.file_notice(parse_notice(notice_data(desk.notifier_id, desk.right_id)), BRAND_USER)

    assert log_size(desk.app) == stored


def test_a_suspension_must_end_after_it_starts() -> None:
    desk = make_desk()
    desk.app.warn_notifier(desk.notifier_id, "Unfounded.", 0.4)
    notifier = desk.app.notifier(desk.notifier_id, AGENT)

    with pytest.raises(NotifierError, match="must end after it starts"):
        notifier.suspend("Unfounded.", desk.clock.moment, AGENT, desk.clock.moment)


# -- sellers and strikes ---------------------------------------------------------------------------


def strike(desk: Desk) -> None:
    desk.app.record_strike("shop.example", "seller-1", uuid4())


SELLER_ID = Seller.id_for("shop.example", "seller-1")


def test_a_sellers_first_strike_registers_the_seller() -> None:
    desk = make_desk()
    case_id = uuid4()

    seller_id = desk.app.record_strike("shop.example", "seller-1", case_id)

    seller = desk.app.seller(seller_id, AGENT)
    assert seller_id == SELLER_ID
    assert (seller.marketplace, seller.seller_ref) == ("shop.example", "seller-1")
    assert seller.strikes[case_id].recorded_at == desk.clock.moment
    assert seller.strikes[case_id].expires_at == desk.clock.moment + timedelta(days=365)


def test_a_strike_stays_live_for_365_days_and_then_expires() -> None:
    desk = make_desk()
    strike(desk)
    seller = desk.app.seller(SELLER_ID, AGENT)
    start = desk.clock.moment

    assert seller.live_strikes(start) == 1
    assert seller.live_strikes(start + timedelta(days=364, hours=23)) == 1
    assert seller.live_strikes(start + timedelta(days=365)) == 0


def test_one_case_counts_as_one_strike() -> None:
    desk = make_desk()
    case_id = uuid4()
    desk.app.record_strike("shop.example", "seller-1", case_id)

    with pytest.raises(SellerError, match=f"already has a strike for case {case_id}"):
        desk.app.record_strike("shop.example", "seller-1", case_id)


def test_a_removed_strike_no_longer_counts() -> None:
    desk = make_desk()
    case_id = uuid4()
    desk.app.record_strike("shop.example", "seller-1", case_id)

    desk.app.remove_strike(SELLER_ID, case_id, "Counter-notice upheld.")

    assert desk.app.seller(SELLER_ID, AGENT).live_strikes(desk.clock.moment) == 0
    with pytest.raises(SellerError, match=f"has no strike for case {case_id}"):
        desk.app.remove_strike(SELLER_ID, case_id, "Twice.")


def test_three_live_strikes_suspend_a_seller() -> None:
    desk = make_desk()
    for _ in range(3):
        strike(desk)
        desk.clock.advance(30)

    desk.app.suspend_seller(SELLER_ID, "Repeat infringer.")

    assert desk.app.seller(SELLER_ID, AGENT).suspended
    event = list(desk.app.events.get(SELLER_ID))[-1]
    assert type(event) is Seller.Suspended
    assert event.live_strikes == 3
    with pytest.raises(SellerError, match="is already suspended"):
        desk.app.suspend_seller(SELLER_ID, "Again.")


def test_two_live_strikes_do_not_suspend_a_seller() -> None:
    desk = make_desk()
    strike(desk)
    strike(desk)
    stored = log_size(desk.app)

    with pytest.raises(SellerError, match="has 2 live strikes; 3 suspend"):
        desk.app.suspend_seller(SELLER_ID, "Repeat infringer.")

    assert log_size(desk.app) == stored


def test_two_live_strikes_and_one_expired_do_not_suspend_a_seller() -> None:
    desk = make_desk()
    strike(desk)
    desk.clock.advance(200)
    strike(desk)
    strike(desk)
    desk.clock.advance(200)

    with pytest.raises(SellerError, match="has 2 live strikes; 3 suspend"):
        desk.app.suspend_seller(SELLER_ID, "Repeat infringer.")
    assert not desk.app.seller(SELLER_ID, AGENT).suspended


def test_two_live_strikes_and_one_removed_do_not_suspend_a_seller() -> None:
    desk = make_desk()
    removed = uuid4()
    desk.app.record_strike("shop.example", "seller-1", removed)
    strike(desk)
    strike(desk)
    desk.app.remove_strike(SELLER_ID, removed, "Counter-notice upheld.")

    with pytest.raises(SellerError, match="has 2 live strikes"):
        desk.app.suspend_seller(SELLER_ID, "Repeat infringer.")


def test_the_strike_lifetime_and_threshold_are_policy() -> None:
    app = make_app(FakeClock(), rules=Rules(strike_lifetime_days=30, strikes_to_suspend=2))
    clock = app.clock
    assert isinstance(clock, FakeClock)
    for _ in range(2):
        app.record_strike("shop.example", "seller-1", uuid4())

    clock.advance(30)
    assert app.seller(SELLER_ID, AGENT).live_strikes(clock.now()) == 0
    with pytest.raises(SellerError, match="has 0 live strikes; 2 suspend"):
        app.suspend_seller(SELLER_ID, "Repeat infringer.")


def test_sellers_that_read_alike_when_joined_with_a_bar_keep_their_own_strikes() -> None:
    desk = make_desk()
    case_one, case_other = uuid4(), uuid4()

    one = desk.app.record_strike("m", "x|y", case_one)
    other = desk.app.record_strike("m|x", "y", case_other)

    assert one != other
    assert set(desk.app.seller(one, AGENT).strikes) == {case_one}
    assert set(desk.app.seller(other, AGENT).strikes) == {case_other}
    assert desk.app.seller(other, AGENT).marketplace == "m|x"


def test_an_unknown_seller_is_not_found() -> None:
    app: NtdApplication = make_app()

    with pytest.raises(DomainError, match="no seller"):
        app.suspend_seller(uuid4(), "Who?")
