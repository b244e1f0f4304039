"""`ntd demo`: a seeded marketplace simulated over weeks, every step through the application API.

The notices (who files what about which listings) are drawn up front from the seed, so the same
seed gives the same notice ids and case ids on every run; what happens to each case is drawn from
a random stream of its own. A fixed clock walks through business hours; deadlines are fired from
the simulation's own queue when the clock passes them. Standing and penalties are not simulated:
every evening ntd catches up with its log and its policies record strikes, suspend sellers and
move notifiers in and out of the trusted lane, as they would in production.

Where things are: `cast.py` (who is in the demo and what they write), `schedule.py` (the clock,
the queue and working hours), `behaviour.py` (what each of them does with a notice or case),
`simulation.py` (the run drawn from the seed, the main loop, the firing of deadlines),
`report.py` (what is printed at the end), `fresh.py` (the empty-store check and `--fresh`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import click

from ntd.bootstrap import FixedClock, Ntd, build
from ntd.config import Settings
from ntd.demo.fresh import DemoError, refuse_non_empty, wipe
from ntd.demo.report import policy_summary, print_report
from ntd.demo.simulation import DemoResult, Simulation

__all__ = [
    "DemoError",
    "DemoResult",
    "Simulation",
    "policy_summary",
    "print_report",
    "run_demo",
    "wipe",
]


def run_demo(
    settings: Settings,
    *,
    size: float = 1.0,
    seed: int = 2026,
    weeks: int = 8,
    fresh: bool = False,
    end: datetime | None = None,
) -> DemoResult:
    """Build the demo marketplace in the configured store, then print what to look at."""
    if fresh:
        for line in wipe(settings):
            click.echo(line, err=True)
    end = (end or settings.now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    start = end - timedelta(weeks=weeks)
    clock = FixedClock(start)
    ntd = build(settings, clock=clock)
    try:
        refuse_non_empty(ntd)
        sim = Simulation(
            ntd.app, clock, seed=seed, size=size, start=start, end=end, policies=_policies(ntd)
        )
        result = sim.run()
        print_report(ntd, sim, result)
        return result
    finally:
        ntd.close()


def _policies(ntd: Ntd) -> Callable[[], Mapping[str, int]]:
    """Catch ntd up with its log (projections, then policies); returns what the policies did."""

    def run() -> Mapping[str, int]:
        ntd.catch_up()
        return ntd.policies.acted if ntd.policies else {}

    return run
