"""Business-day arithmetic: weekends and a configurable holiday calendar are not counted."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta


class BusinessCalendar:
    """Counts business days; a deadline N business days after a moment keeps its time of day."""

    def __init__(self, holidays: Iterable[date] = ()) -> None:
        self.holidays = frozenset(holidays)

    def is_business_day(self, day: date) -> bool:
        """True on a weekday that is not a holiday."""
        return day.weekday() < 5 and day not in self.holidays

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The moment `days` business days after `start` (a start off business days rolls on)."""
        if days < 0:
            raise ValueError("days must not be negative")
        moment = start
        while not self.is_business_day(moment.date()):
            moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        counted = 0
        while counted < days:
            moment += timedelta(days=1)
            if self.is_business_day(moment.date()):
                counted += 1
        return moment

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in the half-open interval (start, end]; negative if end is before start."""
        if end < start:
            return -self.business_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_business_day(day):
                count += 1
        return count

    @classmethod
    def parse(cls, text: str) -> BusinessCalendar:
        """Read holidays from ISO dates split by commas or spaces, e.g. `2026-12-25,2027-01-01`."""
        days: list[date] = []
        for token in text.replace(",", " ").split():
            try:
                days.append(date.fromisoformat(token))
            except ValueError:
                raise ValueError(f"holiday {token!r} is not an ISO date (YYYY-MM-DD)") from None
        return cls(days)
