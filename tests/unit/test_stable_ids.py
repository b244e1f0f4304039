"""Ids made from natural keys: different keys never share one, and the ids a store already holds
(written when parts were simply joined with `|`) still find their aggregates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import domain.filing
import domain.listing_claim
import domain.notifier
import domain.seller
from domain.application import FilingReceipt
from domain.listing_claim import ListingClaim
from domain.notice import parse_notice
from domain.notifier import Notifier, NotifierError
from domain.seller import Seller
from domain.values import NTD_NAMESPACE, RightType, stable_id
from tests.unit.domain_fixtures import (
    AGENT,
    BRAND_USER,
    CERTIFICATE,
    Desk,
    FakeClock,
    grant_cast,
    listing_data,
    log_size,
    make_desk,
    notice_data,
    reasons,
    register_brand,
)

pytestmark = pytest.mark.fast


def old_id(*parts: str) -> UUID:
    """The id the code gave every key before this fix: its parts joined with `|`."""
    return uuid5(NTD_NAMESPACE, "|".join(parts))


@contextmanager
def written_by_the_old_code() -> Iterator[None]:
    """Commands given inside store their aggregates under the ids the old code gave."""
    with pytest.MonkeyPatch.context() as patch:
        for module in (domain.filing, domain.listing_claim, domain.notifier, domain.seller):
            patch.setattr(module, "stable_id", old_id)
        # the old code filed a client's notice id as the notice id itself, keeping no record
        patch.setattr(
            domain.filing, "notice_id_for", lambda sub, _n, _k: (sub.notice_id or uuid4(), False)
        )
        yield


# -- every key its own id --------------------------------------------------------------------------

CHARACTER = st.characters(exclude_categories=["Cs"])
"""Any character a key can hold: pydantic refuses strings with lone surrogates."""
PART = st.text(st.sampled_from('|x y"[],\\é€𝄞') | CHARACTER, max_size=6)
"""Parts rich in what an encoding might trip on: bars, quotes, brackets, escapes, unicode, ''."""
KEY = st.lists(PART, max_size=5).map(tuple)
NO_BAR = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="|"), max_size=6)


@st.composite
def keys_that_read_alike_when_joined(draw: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Two keys that join to the same string: one run of `|`-free pieces, cut in two ways."""
    pieces = draw(st.lists(NO_BAR, min_size=2, max_size=6))
    gaps = st.sets(st.integers(1, len(pieces) - 1))

    def cut(at: set[int]) -> tuple[str, ...]:
        bounds = [0, *sorted(at), len(pieces)]
        return tuple("|".join(pieces[a:b]) for a, b in zip(bounds, bounds[1:], strict=False))

    return cut(draw(gaps)), cut(draw(gaps))


@given(KEY, KEY)
def test_different_keys_never_get_the_same_id(one: tuple[str, ...], other: tuple[str, ...]) -> None:
    assert (stable_id(*one) == stable_id(*other)) == (one == other)


@given(keys_that_read_alike_when_joined())
def test_keys_that_read_alike_when_joined_with_a_bar_get_different_ids(
    keys: tuple[tuple[str, ...], tuple[str, ...]],
) -> None:
    one, other = keys
    assume(one != other)

    assert stable_id(*one) != stable_id(*other)
    for key in keys:  # a store may hold the id both once had for the other key's aggregate
        if any("|" in part for part in key):
            assert stable_id(*key) != old_id(*key)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("seller", "m", "x|y"), ("seller", "m|x", "y")),
        (("a", ""), ("a|",)),
        (("", ""), ("|",)),
        ((), ("",)),
        (("x", "y"), ('["x", "y"]',)),
        (("é|",), ("é", "")),
    ],
)
def test_keys_an_encoding_might_confuse_get_different_ids(
    one: tuple[str, ...], other: tuple[str, ...]
) -> None:
    assert stable_id(*one) != stable_id(*other)


# -- a store written by the old code keeps working ----------------------------------------------


@given(st.lists(NO_BAR, min_size=1, max_size=5))
def test_a_key_without_a_bar_keeps_the_id_it_always_had(parts: list[str]) -> None:
    assert stable_id(*parts) == old_id(*parts)


def test_the_ids_of_sellers_claims_and_rights_without_a_bar_are_the_ones_stores_hold() -> None:
    notifier_id = UUID("00000000-0000-0000-0000-000000000001")

    assert Seller.id_for("shop.example", "seller-1") == old_id("seller", "shop.example", "seller-1")
    assert ListingClaim.id_for(notifier_id, "shop.example", "L-1") == old_id(
        "claim", str(notifier_id), "shop.example", "L-1"
    )
    assert Notifier.right_id_for(notifier_id, RightType.TRADEMARK, "TM-1", "eu") == old_id(
        "right", str(notifier_id), "trademark", "TM-1", "EU"
    )


PLAIN = listing_data("L-1")
BAR = listing_data("x|y", marketplace="marketly")
ALIKE = listing_data("y", marketplace="marketly|x")
"""Joined with `|`, BAR and ALIKE both read `marketly|x|y`: the old code gave them one id."""


def file(desk: Desk, *listings: dict[str, Any], **overrides: Any) -> FilingReceipt:
    data = notice_data(desk.notifier_id, desk.right_id, list(listings), **overrides)
    return desk.app.file_notice(parse_notice(data), BRAND_USER)


@pytest.fixture(params=["one by one", pytest.param("batch reader", marks=pytest.mark.sqlite)])
def old_desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    """A brand registered by the old code, on a store read one aggregate at a time or in
    batches (the production store's reader)."""
    if request.param == "one by one":
        with written_by_the_old_code():
            desk = make_desk()
        yield desk
        return
    from ntd.bootstrap import build
    from ntd.config import Settings

    clock = FakeClock()
    system = build(Settings(data_dir=tmp_path, read_dsn=f"sqlite:///{tmp_path}/r.db"), clock)
    assert system.app.batch_reader is not None
    try:
        grant_cast(system.app)
        with written_by_the_old_code():
            brand = register_brand(system.app)
        yield Desk(system.app, clock, *brand)
    finally:
        system.close()


def test_refiling_a_notice_filed_by_the_old_code_finds_its_open_cases(old_desk: Desk) -> None:
    notice_id = str(uuid4())
    with written_by_the_old_code():
        before = file(old_desk, PLAIN, BAR, notice_id=notice_id)
    assert [c.case_id for c in before.cases] == [
        old_id("case", notice_id, "shop.example", "L-1"),
        old_id("case", notice_id, "marketly", "x|y"),
    ]
    assert before.cases[0].case_id == stable_id("case", notice_id, "shop.example", "L-1")
    stored = log_size(old_desk.app)

    retry = file(old_desk, PLAIN, BAR, notice_id=notice_id)
    again = file(old_desk, PLAIN, BAR)

    for receipt in (retry, again):
        assert [c.case_id for c in receipt.cases] == [c.case_id for c in before.cases]
        assert all(c.already_open for c in receipt.cases)
    assert log_size(old_desk.app) == stored


def test_a_case_the_old_code_filed_about_a_listing_with_a_bar_can_be_resolved_and_filed_again(
    old_desk: Desk,
) -> None:
    with written_by_the_old_code():
        first = file(old_desk, BAR).cases[0].case_id

    old_desk.app.decline(first, reasons(), AGENT)
    again = file(old_desk, BAR)

    assert len(again.new_case_ids) == 1
    assert again.new_case_ids != [first]
    assert file(old_desk, BAR).cases[0].case_id == again.new_case_ids[0]


def test_a_listing_alike_one_the_old_code_filed_gets_a_case_of_its_own(old_desk: Desk) -> None:
    notice_id = str(uuid4())
    with written_by_the_old_code():
        theirs = file(old_desk, BAR, notice_id=notice_id).cases[0].case_id

    mine = file(old_desk, ALIKE, notice_id=notice_id)

    assert not mine.cases[0].already_open
    assert mine.cases[0].case_id != theirs
    assert old_desk.case(mine.cases[0].case_id).listing.marketplace == "marketly|x"
    assert file(old_desk, BAR).cases[0].case_id == theirs


def test_a_claim_the_old_code_shared_answers_for_the_listing_of_the_case_it_holds(
    old_desk: Desk,
) -> None:
    with written_by_the_old_code():
        first = file(old_desk, BAR).cases[0].case_id
        assert file(old_desk, ALIKE).cases[0].case_id == first  # the collision, as it was
        old_desk.app.withdraw(first, "Settled.", BRAND_USER)
        held = file(old_desk, ALIKE).cases[0].case_id  # in the claim opened for BAR

    assert file(old_desk, ALIKE).cases[0].case_id == held
    bar = file(old_desk, BAR)
    assert bar.new_case_ids and bar.new_case_ids != [held]
    old_desk.app.withdraw(held, "Settled.", BRAND_USER)
    again = file(old_desk, BAR, ALIKE)
    assert again.cases[0].case_id == bar.new_case_ids[0]
    assert len(again.new_case_ids) == 1
    assert old_desk.case(again.new_case_ids[0]).listing.marketplace == "marketly|x"


def test_a_sellers_strikes_recorded_by_the_old_code_are_still_found() -> None:
    desk = make_desk()
    earlier, later = uuid4(), uuid4()
    with written_by_the_old_code():
        seller_id = desk.app.record_strike("shop.example", "seller-1", earlier)

    assert desk.app.record_strike("shop.example", "seller-1", later) == seller_id
    assert set(desk.app.seller(seller_id, AGENT).strikes) == {earlier, later}


@pytest.mark.parametrize("number", ["TM-1", "TM|1"])
def test_a_right_the_old_code_registered_cannot_be_registered_again(number: str) -> None:
    desk = make_desk()
    with written_by_the_old_code():
        right_id = desk.app.register_right(
            desk.notifier_id, RightType.TRADEMARK, number, "EU", CERTIFICATE, AGENT
        )

    with pytest.raises(NotifierError, match=f"as right {right_id}"):
        desk.app.register_right(
            desk.notifier_id, RightType.TRADEMARK, number, "eu", CERTIFICATE, AGENT
        )
