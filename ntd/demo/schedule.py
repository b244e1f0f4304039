"""The demo's time: a fixed clock, a queue of what happens next in time order, and the working
hours the agents and notifiers keep (business days of ntd's calendar, 08:00–18:00 UTC).

Nothing happens before the clock's present: an action queued for the past runs now. The
simulation (ntd/demo/simulation.py) pops the queue and sets the clock to each action's moment.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from domain.application import NtdApplication
from ntd.bootstrap import FixedClock

OPEN_HOUR, CLOSE_HOUR = 8, 18
"""Agents and notifiers work 08:00–18:00 UTC on business days."""


class Schedule:
    """One clock and the actions queued on it, in time order (ties in the order queued)."""

    def __init__(self, app: NtdApplication, clock: FixedClock) -> None:
        self.app, self.clock = app, clock
        self.queue: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self.order = itertools.count()

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def at(self, moment: datetime, action: Callable[..., None], *args: Any) -> None:
        """Schedule an action; nothing happens before the clock's present."""
        heapq.heappush(self.queue, (max(moment, self.now), next(self.order), action, args))

    def _open(self, moment: datetime) -> datetime:
        calendar = self.app.calendar
        while True:
            if calendar.is_business_day(moment.date()) and moment.hour < CLOSE_HOUR:
                opening = moment.replace(hour=OPEN_HOUR, minute=0, second=0, microsecond=0)
                return max(moment, opening)
            moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)

    def work_after(self, hours: float, start: datetime | None = None) -> datetime:
        """The moment `hours` working hours after `start` (default now)."""
        moment, remaining = start or self.now, timedelta(hours=hours)
        while True:
            moment = self._open(moment)
            closing = moment.replace(hour=CLOSE_HOUR, minute=0, second=0, microsecond=0)
            if moment + remaining < closing:
                return moment + remaining
            remaining -= closing - moment
            moment = closing
