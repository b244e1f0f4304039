"""Business-day arithmetic: weekends, holidays, year end, time of day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import BusinessCalendar

pytestmark = pytest.mark.fast

CHRISTMAS = BusinessCalendar([date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1)])


def at(day: str, time: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}:00+00:00")


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        pytest.param(at("2026-03-06"), 1, at("2026-03-09"), id="friday-plus-1-is-monday"),
        pytest.param(at("2026-03-02"), 5, at("2026-03-09"), id="monday-plus-5-is-next-monday"),
        pytest.param(at("2026-03-04"), 2, at("2026-03-06"), id="wednesday-plus-2-is-friday"),
        pytest.param(at("2026-03-05"), 2, at("2026-03-09"), id="thursday-plus-2-is-monday"),
        pytest.param(at("2026-03-06"), 10, at("2026-03-20"), id="ten-days-span-two-weekends"),
        pytest.param(at("2026-03-06"), 0, at("2026-03-06"), id="zero-days-is-the-start"),
    ],
)
def test_weekends_are_not_counted(start: datetime, days: int, due: datetime) -> None:
    assert BusinessCalendar().add_business_days(start, days) == due


def test_christmas_eve_plus_3_skips_the_holidays_and_the_weekend() -> None:
    assert CHRISTMAS.add_business_days(at("2026-12-24"), 3) == at("2026-12-30")


def test_a_deadline_across_the_year_end_skips_new_years_day() -> None:
    assert CHRISTMAS.add_business_days(at("2026-12-24"), 5) == at("2027-01-04")


def test_the_deadline_keeps_the_time_of_day_and_zone_of_the_start() -> None:
    start = at("2026-12-24", "17:45")

    due = CHRISTMAS.add_business_days(start, 3)

    assert (due.date(), due.time(), due.tzinfo) == (date(2026, 12, 30), start.time(), UTC)


def test_a_start_on_saturday_counts_from_the_beginning_of_monday() -> None:
    calendar = BusinessCalendar()
    saturday = at("2026-03-07", "15:20")

    assert calendar.add_business_days(saturday, 0) == at("2026-03-09", "00:00")
    assert calendar.add_business_days(saturday, 1) == at("2026-03-10", "00:00")
    assert calendar.add_business_days(saturday, 5) == at("2026-03-16", "00:00")


def test_a_start_on_a_holiday_counts_from_the_next_business_day() -> None:
    assert CHRISTMAS.add_business_days(at("2026-12-25", "09:00"), 1) == at("2026-12-29", "00:00")


def test_a_negative_number_of_days_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        BusinessCalendar().add_business_days(at("2026-03-02"), -1)


def test_weekdays_that_are_not_holidays_are_business_days() -> None:
    assert CHRISTMAS.is_business_day(date(2026, 12, 24))
    assert not CHRISTMAS.is_business_day(date(2026, 12, 25))
    assert not CHRISTMAS.is_business_day(date(2026, 12, 27))
    assert not CHRISTMAS.is_business_day(date(2027, 1, 1))


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        (date(2026, 3, 6), date(2026, 3, 9), 1),
        (date(2026, 3, 2), date(2026, 3, 9), 5),
        (date(2026, 3, 2), date(2026, 3, 2), 0),
        (date(2026, 3, 9), date(2026, 3, 6), -1),
        (date(2026, 12, 24), date(2027, 1, 4), 5),
    ],
)
def test_business_days_between_two_days_count_the_later_but_not_the_earlier(
    start: date, end: date, count: int
) -> None:
    assert CHRISTMAS.business_days_between(start, end) == count


def test_holidays_are_read_from_iso_dates_split_by_commas_or_spaces() -> None:
    calendar = BusinessCalendar.parse("2026-12-25, 2026-12-26\n2027-01-01")

    assert calendar.holidays == CHRISTMAS.holidays
    assert BusinessCalendar.parse("").holidays == frozenset()


def test_a_holiday_that_is_not_an_iso_date_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"holiday '25\.12\.2026' is not an ISO date"):
        BusinessCalendar.parse("2026-12-24,25.12.2026")


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    days=st.integers(min_value=1, max_value=40),
)
def test_n_business_days_later_is_a_business_day_exactly_n_business_days_on(
    start: datetime, days: int
) -> None:
    due = CHRISTMAS.add_business_days(start, days)

    assert CHRISTMAS.is_business_day(due.date())
    assert due > start
    if CHRISTMAS.is_business_day(start.date()):
        assert due.time() == start.time()
        assert CHRISTMAS.business_days_between(start.date(), due.date()) == days
