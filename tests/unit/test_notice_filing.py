"""Filing a notice: validation, refusals that save nothing, re-filing, the trusted lane."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.application import FilingReceipt, NtdApplication
from domain.calendar import BusinessCalendar
from domain.case import Case, CaseError, Deadline, Lane, State
from domain.notice import NoticeRefused, parse_notice
from domain.rules import Rules
from domain.values import SYSTEM, AutomatedDecision, RightType, SourceType
from tests.unit.domain_fixtures import (
    AGENT,
    BRAND_USER,
    SELLER,
    Desk,
    FakeClock,
    listing_data,
    log_size,
    make_desk,
    notice_data,
    reasons,
    register_brand,
    without,
)

pytestmark = pytest.mark.fast


def file_raw(app: NtdApplication, data: Any) -> FilingReceipt:
    """What an entry point does with a notice as received: validate it, then file it."""
    return app.file_notice(parse_notice(data), BRAND_USER)


def refusal(desk: Desk, data: Any) -> list[str]:
    """The problems a refused notice names; fails if anything was stored."""
    stored = log_size(desk.app)
    with pytest.raises(NoticeRefused) as refused:
        file_raw(desk.app, data)
    assert log_size(desk.app) == stored, "a refused notice must save nothing"
    message = str(refused.value)
    assert message.startswith(f"notice refused ({len(refused.value.problems)} problem")
    assert all(problem in message for problem in refused.value.problems)
    return refused.value.problems


@pytest.fixture
def desk() -> Desk:
    return make_desk()


def valid(desk: Desk, **overrides: Any) -> dict[str, Any]:
    return notice_data(desk.notifier_id, desk.right_id, **overrides)


# -- the elements a notice must carry --------------------------------------------------------------

REQUIRED = [
    ("notifier_id",),
    ("right_id",),
    ("submitted_by",),
    ("listings",),
    ("listings", 0, "marketplace"),
    ("listings", 0, "listing_id"),
    ("listings", 0, "url"),
    ("listings", 0, "seller_id"),
    ("reason_code",),
    ("explanation",),
    ("evidence",),
    ("evidence", 0, "kind"),
    ("evidence", 0, "reference"),
    ("evidence", 0, "sha256"),
    ("contact",),
    ("contact", "name"),
    ("contact", "email"),
    ("good_faith_statement",),
    ("accuracy_statement",),
    ("signature",),
]


@pytest.mark.parametrize("path", REQUIRED, ids=lambda path: ".".join(map(str, path)))
def test_a_notice_missing_a_required_element_is_refused_naming_that_element(
    desk: Desk, path: tuple[str | int, ...]
) -> None:
    problems = refusal(desk, without(valid(desk), *path))

    assert problems == [f"{'.'.join(map(str, path))}: missing (required)"]


@pytest.mark.parametrize("statement", ["good_faith_statement", "accuracy_statement"])
def test_an_unaffirmed_statement_is_refused(desk: Desk, statement: str) -> None:
    problems = refusal(desk, valid(desk, **{statement: False}))

    assert problems == [f"{statement}: must be affirmed (true)"]


@pytest.mark.parametrize("digest", ["abc", "g" * 64, "e" * 63, "e" * 65, ""])
def test_evidence_with_a_malformed_sha256_is_refused(desk: Desk, digest: str) -> None:
    evidence = [{"kind": "photo", "reference": "front.jpg", "sha256": digest}]

    problems = refusal(desk, valid(desk, evidence=evidence))

    assert len(problems) == 1
    assert problems[0].startswith("evidence.0.sha256: ")


@pytest.mark.parametrize("url", ["shop.example/item/1", "ftp://shop.example/1", "https://a b/c"])
def test_a_listing_with_a_bad_url_is_refused(desk: Desk, url: str) -> None:
    problems = refusal(desk, valid(desk, listings=[listing_data("L-1", url=url)]))

    assert len(problems) == 1
    assert problems[0].startswith("listings.0.url: ")


def test_a_listing_named_twice_in_one_notice_is_refused(desk: Desk) -> None:
    twice = [
        listing_data("L-1"),
        listing_data("L-2"),
        listing_data("L-1", url="https://x.example/1"),
    ]

    problems = refusal(desk, valid(desk, listings=twice))

    assert problems == ["listings: listing shop.example/L-1 appears twice"]


def test_a_notice_naming_no_listing_is_refused(desk: Desk) -> None:
    problems = refusal(desk, valid(desk, listings=[]))

    assert len(problems) == 1
    assert problems[0].startswith("listings: ")
    assert "at least 1" in problems[0]


def test_a_notice_naming_more_than_300_listings_is_refused(desk: Desk) -> None:
    problems = refusal(desk, valid(desk, listings=301))

    assert problems == ["listings: a notice names at most 300 listings, this one names 301"]


def test_a_notice_naming_301_listings_one_of_them_bad_hears_of_both_faults(desk: Desk) -> None:
    data = valid(desk, listings=301)
    data["listings"][7]["url"] = "not a url"

    problems = refusal(desk, data)

    assert sorted(p.split(":")[0] for p in problems) == ["listings", "listings.7.url"]
    assert "listings: a notice names at most 300 listings, this one names 301" in problems


def test_a_notice_naming_300_listings_opens_300_cases(desk: Desk) -> None:
    receipt = file_raw(desk.app, valid(desk, listings=300))

    assert len(set(receipt.new_case_ids)) == 300


def test_a_stricter_listing_limit_set_by_policy_is_enforced() -> None:
    desk = make_desk(rules=Rules(max_listings_per_notice=2))

    problems = refusal(desk, valid(desk, listings=3))

    assert problems == ["listings: a notice names at most 2 listings, this one names 3"]


def test_a_notice_with_several_faults_names_each_once(desk: Desk) -> None:
    data = without(valid(desk, accuracy_statement=False), "signature")
    data["evidence"] = [{"kind": "photo", "reference": "r", "sha256": "nope"}]

    problems = refusal(desk, data)

    assert sorted(p.split(":")[0] for p in problems) == [
        "accuracy_statement",
        "evidence.0.sha256",
        "signature",
    ]


def test_an_evidence_hash_in_upper_case_is_accepted_and_stored_in_lower_case(desk: Desk) -> None:
    evidence = [{"kind": "photo", "reference": "front.jpg", "sha256": "AB" * 32}]

    case_id = file_raw(desk.app, valid(desk, evidence=evidence)).cases[0].case_id

    filed = desk.app.case_events(case_id, AGENT)[0]
    assert filed.evidence[0].sha256 == "ab" * 32


# -- the notifier and the right behind a notice --------------------------------------------------


def test_a_notice_by_an_unknown_notifier_is_refused(desk: Desk) -> None:
    unknown = uuid4()

    problems = refusal(desk, notice_data(unknown, desk.right_id))

    assert problems == [f"notifier_id: no notifier {unknown}"]


def test_a_notice_relying_on_an_unknown_right_is_refused(desk: Desk) -> None:
    unknown = uuid4()

    problems = refusal(desk, notice_data(desk.notifier_id, unknown))

    assert problems == [f"right_id: notifier has no right {unknown}"]


def test_a_notice_relying_on_another_notifiers_right_is_refused(desk: Desk) -> None:
    _, their_right = register_brand(desk.app, "Other")

    problems = refusal(desk, notice_data(desk.notifier_id, their_right))

    assert problems == [f"right_id: notifier has no right {their_right}"]


def test_a_notice_relying_on_an_unverified_right_is_refused(desk: Desk) -> None:
    pending = desk.app.register_right(
        desk.notifier_id, RightType.DESIGN, "D-1", "eu", "d" * 64, AGENT
    )

    problems = refusal(desk, notice_data(desk.notifier_id, pending))

    assert problems == [f"right_id: right {pending} is pending, not verified"]


def test_a_notice_relying_on_a_rejected_right_is_refused(desk: Desk) -> None:
    desk.app.reject_right(desk.notifier_id, desk.right_id, "Certificate expired.", AGENT)

    problems = refusal(desk, valid(desk))

    assert problems == [f"right_id: right {desk.right_id} is rejected, not verified"]


def test_a_notice_by_a_suspended_notifier_is_refused_until_the_suspension_ends(desk: Desk) -> None:
    desk.app.warn_notifier(desk.notifier_id, "Unfounded notices.", 0.4)
    desk.app.suspend_notifier(desk.notifier_id, "Still unfounded.", days=30)
    until = desk.app.notifier(desk.notifier_id, AGENT).suspended_until

    problems = refusal(desk, valid(desk))
    assert problems == [f"notifier_id: notifier is suspended until {until}"]

    desk.clock.advance(30)
    assert file_raw(desk.app, valid(desk)).new_case_ids


def test_a_suspended_notifier_relying_on_an_unverified_right_hears_of_both(desk: Desk) -> None:
    pending = desk.app.register_right(
        desk.notifier_id, RightType.PATENT, "P-1", "us", "f" * 64, AGENT
    )
    desk.app.warn_notifier(desk.notifier_id, "Unfounded notices.", 0.4)
    desk.app.suspend_notifier(desk.notifier_id, "Still unfounded.")

    problems = refusal(desk, notice_data(desk.notifier_id, pending))

    assert [p.split(":")[0] for p in problems] == ["notifier_id", "right_id"]


# -- what an accepted notice opens -----------------------------------------------------------------


def test_each_listing_of_a_notice_becomes_its_own_case_linked_to_the_notice(desk: Desk) -> None:
    receipt = desk.file("L-1", "L-2", "L-3")

    assert receipt.lane is Lane.NORMAL
    assert [c.listing_id for c in receipt.cases] == ["L-1", "L-2", "L-3"]
    assert len(set(receipt.new_case_ids)) == 3
    for filed in receipt.cases:
        case = desk.case(filed.case_id)
        assert case.state is State.FILED
        assert case.notice_id == receipt.notice_id
        assert (case.notifier_id, case.right_id) == (desk.notifier_id, desk.right_id)
        assert case.right_type is RightType.TRADEMARK
        assert case.listing.listing_id == filed.listing_id
        assert case.source_type is SourceType.ARTICLE_16
        assert case.deadlines == {}


# -- idempotent re-filing --------------------------------------------------------------------------


def test_refiling_a_listing_with_an_open_case_points_to_that_case_and_saves_nothing(
    desk: Desk,
) -> None:
    first = desk.file_one("L-1")
    desk.app.take_down(first, reasons(), AGENT)
    stored = log_size(desk.app)

    receipt = desk.file("L-1")

    assert receipt.cases[0].case_id == first
    assert receipt.cases[0].already_open
    assert receipt.new_case_ids == []
    assert log_size(desk.app) == stored


def test_refiling_a_notice_with_one_open_and_one_new_listing_opens_only_the_new_one(
    desk: Desk,
) -> None:
    first = desk.file_one("L-1")

    receipt = desk.file("L-1", "L-2")

    assert receipt.cases[0].case_id == first
    assert receipt.new_case_ids == [receipt.cases[1].case_id]
    assert desk.case(receipt.cases[1].case_id).notice_id == receipt.notice_id


def _lapse(desk: Desk, case_id: UUID) -> None:
    desk.app.request_clarification(case_id, "Which mark?", AGENT)
    desk.clock.advance(30)
    desk.app.miss_deadline(case_id, Deadline.CLARIFICATION)


def _reinstate(desk: Desk, case_id: UUID) -> None:
    desk.app.take_down(case_id, reasons(), AGENT)
    desk.app.counter_notice(case_id, "Genuine goods.", True, SELLER)
    desk.app.uphold_appeal(case_id, reasons(), AGENT)


def _close_by_window(desk: Desk, case_id: UUID) -> None:
    desk.app.take_down(case_id, reasons(), AGENT)
    desk.clock.advance(30)
    desk.app.miss_deadline(case_id, Deadline.COUNTER_NOTICE)


RESOLUTIONS = {
    State.DECLINED: lambda d, c: d.app.decline(c, reasons(), AGENT),
    State.WITHDRAWN: lambda d, c: d.app.withdraw(c, "Settled.", BRAND_USER),
    State.REINSTATED: _reinstate,
    State.LAPSED: _lapse,
    State.CLOSED: _close_by_window,
}


@pytest.mark.parametrize("resolved", list(RESOLUTIONS), ids=lambda s: s.value)
def test_refiling_a_listing_whose_case_was_resolved_opens_a_new_case(
    desk: Desk, resolved: State
) -> None:
    first = desk.file_one("L-1")
    RESOLUTIONS[resolved](desk, first)
    assert desk.case(first).state is resolved

    receipt = desk.file("L-1")

    assert receipt.new_case_ids != [first]
    assert len(receipt.new_case_ids) == 1
    assert desk.case(receipt.new_case_ids[0]).state is State.FILED
    assert desk.file("L-1").cases[0].case_id == receipt.new_case_ids[0]


def test_refiling_after_an_appeal_was_rejected_points_to_the_still_open_case(desk: Desk) -> None:
    first = desk.file_one("L-1")
    desk.app.take_down(first, reasons(), AGENT)
    desk.app.counter_notice(first, "Genuine goods.", True, SELLER)
    desk.app.reject_appeal(first, reasons(), AGENT)

    assert desk.file("L-1").cases[0].case_id == first


def test_another_notifier_filing_the_same_listing_gets_its_own_case(desk: Desk) -> None:
    ours = desk.file_one("L-1")
    notifier_id, right_id = register_brand(desk.app, "Other")

    theirs = file_raw(desk.app, notice_data(notifier_id, right_id, [listing_data("L-1")]))

    assert theirs.new_case_ids and theirs.new_case_ids != [ours]
    assert desk.case(theirs.new_case_ids[0]).notifier_id == notifier_id


# Listing `x|y` on `marketly` and listing `y` on `marketly|x`: joined with `|`, both read
# `marketly|x|y`, so their case and claim ids once agreed.
BAR_LISTINGS = [
    listing_data("x|y", marketplace="marketly"),
    listing_data("y", marketplace="marketly|x"),
]


def test_listings_that_read_alike_when_joined_with_a_bar_get_a_case_each(desk: Desk) -> None:
    first = file_raw(desk.app, valid(desk, listings=BAR_LISTINGS[:1]))

    second = file_raw(desk.app, valid(desk, listings=BAR_LISTINGS[1:]))

    assert not second.cases[0].already_open
    assert second.new_case_ids != first.new_case_ids
    listing = desk.case(second.new_case_ids[0]).listing
    assert (listing.marketplace, listing.listing_id) == ("marketly|x", "y")


def test_a_notice_naming_listings_that_read_alike_when_joined_opens_a_case_for_each(
    desk: Desk,
) -> None:
    receipt = file_raw(desk.app, valid(desk, listings=BAR_LISTINGS, notice_id=str(uuid4())))

    assert len(set(receipt.new_case_ids)) == 2
    listings = [desk.case(case_id).listing for case_id in receipt.new_case_ids]
    assert [(x.marketplace, x.listing_id) for x in listings] == [
        ("marketly", "x|y"),
        ("marketly|x", "y"),
    ]
    assert file_raw(desk.app, valid(desk, listings=BAR_LISTINGS)).new_case_ids == []


def test_retrying_a_notice_with_the_same_client_notice_id_returns_the_same_cases(
    desk: Desk,
) -> None:
    notice_id = uuid4()
    first = desk.file("L-1", "L-2", notice_id=str(notice_id))
    stored = log_size(desk.app)

    retry = desk.file("L-1", "L-2", notice_id=str(notice_id))

    assert first.notice_id == retry.notice_id != notice_id  # stored scoped to the notifier
    assert first.client_notice_id == retry.client_notice_id == notice_id
    assert [c.case_id for c in retry.cases] == [c.case_id for c in first.cases]
    assert retry.new_case_ids == []
    assert log_size(desk.app) == stored


def test_retrying_a_notice_after_its_case_was_resolved_still_returns_that_case(
    desk: Desk,
) -> None:
    notice_id = str(uuid4())
    first = desk.file_one("L-1", notice_id=notice_id)
    desk.app.decline(first, reasons(), AGENT)
    stored = log_size(desk.app)

    retry = desk.file("L-1", notice_id=notice_id)

    assert [c.case_id for c in retry.cases] == [first]
    assert log_size(desk.app) == stored


def test_a_client_notice_id_another_notifier_used_opens_a_notice_of_its_own(desk: Desk) -> None:
    notice_id = str(uuid4())
    ours = desk.file("L-1", notice_id=notice_id)
    notifier_id, right_id = register_brand(desk.app, "Other")
    theirs = notice_data(notifier_id, right_id, [listing_data("L-1")], notice_id=notice_id)

    receipt = file_raw(desk.app, theirs)

    assert receipt.notice_id != ours.notice_id
    assert len(receipt.new_case_ids) == 1
    assert desk.case(receipt.new_case_ids[0]).notifier_id == notifier_id


def test_a_client_notice_id_used_again_for_other_listings_is_refused(desk: Desk) -> None:
    notice_id = str(uuid4())
    desk.file("L-1", notice_id=notice_id)

    problems = refusal(desk, valid(desk, listings=[listing_data("L-2")], notice_id=notice_id))

    assert problems == [
        f"notice_id: {notice_id} was already used for listings shop.example/L-1; this notice "
        "names shop.example/L-2 (added: shop.example/L-2; missing: shop.example/L-1)"
    ]


# -- the trusted lane (Good Faith Takedown) -------------------------------------------------------


def test_a_trusted_notifier_filing_takes_the_listing_down_at_once() -> None:
    desk = make_desk(trusted=True)
    filed_at = desk.clock.moment

    receipt = desk.file("L-1")

    assert receipt.lane is Lane.TRUSTED
    case = desk.case(receipt.cases[0].case_id)
    assert case.state is State.TAKEN_DOWN_PENDING_REVIEW
    assert case.source_type is SourceType.TRUSTED_FLAGGER
    assert case.taken_down_at == filed_at
    filed, taken_down, notified = desk.app.case_events(case.id, AGENT)
    assert type(filed) is Case.Filed and filed.lane is Lane.TRUSTED
    assert type(taken_down) is Case.TakenDown
    assert taken_down.lane is Lane.TRUSTED
    assert taken_down.actor == SYSTEM
    assert taken_down.reasons.automated_decision is AutomatedDecision.FULLY
    assert taken_down.review_by == desk.app.calendar.add_business_days(filed_at, 2)
    assert type(notified) is Case.SellerNotified
    assert notified.seller_id == "seller-1"
    assert notified.counter_notice_by == desk.app.calendar.add_business_days(filed_at, 10)


def test_a_fast_lane_takedown_on_a_friday_before_a_holiday_is_reviewed_after_it() -> None:
    friday = FakeClock(start=FakeClock().moment.replace(day=7))
    assert friday.moment.weekday() == 4
    holiday = BusinessCalendar([date(2031, 3, 10)])
    desk = make_desk(clock=friday, calendar=holiday, trusted=True)

    case = desk.case(desk.file_one())

    assert case.deadlines[Deadline.REVIEW] == friday.moment.replace(day=12)
    assert case.deadlines[Deadline.COUNTER_NOTICE] == friday.moment.replace(day=24)


def test_a_fast_lane_takedown_leaves_a_review_due_only_after_its_review_date() -> None:
    desk = make_desk(trusted=True)
    case_id = desk.file_one()
    review_by = desk.case(case_id).deadlines[Deadline.REVIEW]

    desk.clock.set(review_by - timedelta(minutes=1))
    assert desk.case(case_id).due_deadlines(desk.clock.moment) == []
    with pytest.raises(CaseError, match="review deadline is not due"):
        desk.app.miss_deadline(case_id, Deadline.REVIEW)

    desk.clock.set(review_by)
    assert desk.case(case_id).due_deadlines(review_by) == [Deadline.REVIEW]
    case = desk.app.miss_deadline(case_id, Deadline.REVIEW)
    assert case.state is State.TAKEN_DOWN_PENDING_REVIEW
    assert case.missed == [Deadline.REVIEW]


@pytest.mark.parametrize(
    "decide", [NtdApplication.confirm_takedown, NtdApplication.reverse_takedown]
)
def test_reviewing_a_fast_lane_takedown_clears_its_review(decide: Any) -> None:
    desk = make_desk(trusted=True)
    case_id = desk.file_one()

    case = decide(desk.app, case_id, reasons(), AGENT)

    assert Deadline.REVIEW not in case.deadlines
    desk.clock.advance(30)
    assert Deadline.REVIEW not in desk.case(case_id).due_deadlines(desk.clock.moment)


def test_a_notifier_removed_from_the_trusted_lane_files_in_the_normal_lane_again() -> None:
    desk = make_desk(trusted=True)
    desk.app.remove_from_trusted_lane(desk.notifier_id, "Reversal share above 5 %.")

    receipt = desk.file("L-1")

    assert receipt.lane is Lane.NORMAL
    assert desk.case(receipt.cases[0].case_id).state is State.FILED
