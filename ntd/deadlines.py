"""Firing due deadlines: the service operation behind `ntd deadlines run`, which the CLI, the
demo and the tests call. A deadline fires by recording it missed on its case, whose lifecycle
then applies the effect (a lapsed counter-notice window closes the case, a passed restoration
date reinstates the listing…)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.application import NtdApplication
from domain.case import Case, CaseError, IllegalStep
from domain.values import SYSTEM, Actor, ClockWentBack
from ntd.bootstrap import Ntd
from projections.models import DueDeadline


@dataclass(frozen=True)
class Fired:
    """One due deadline and what firing it did: the case after it, or why it was skipped."""

    due: DueDeadline
    case: Case | None = None
    skipped: str | None = None


@dataclass(frozen=True)
class DeadlineRun:
    """A run over every deadline due at `now`; with `dry_run`, nothing was fired."""

    now: datetime
    due: list[DueDeadline]
    fired: list[Fired]
    dry_run: bool = False

    @property
    def fired_count(self) -> int:
        """Deadlines fired."""
        return sum(1 for f in self.fired if f.case is not None)

    @property
    def skipped_count(self) -> int:
        """Deadlines the case refused (it moved on since the read models saw it)."""
        return sum(1 for f in self.fired if f.skipped is not None)


def fire(app: NtdApplication, due: DueDeadline, actor: Actor = SYSTEM) -> Fired:
    """Fire one deadline; a case that has moved on since (or whose latest event is later than
    the run's time) is skipped with the reason."""
    try:
        return Fired(due, case=app.miss_deadline(due.case_id, due.deadline, actor))
    except (CaseError, IllegalStep, ClockWentBack) as error:
        return Fired(due, skipped=str(error))


def fire_all(app: NtdApplication, due: Iterable[DueDeadline], actor: Actor = SYSTEM) -> list[Fired]:
    """Fire each due deadline in turn."""
    return [fire(app, d, actor) for d in due]


def fire_due_deadlines(
    ntd: Ntd,
    actor: Actor = SYSTEM,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> DeadlineRun:
    """Every deadline due at ntd's clock, as the caught-up read models list them, fired (or,
    with dry_run, only listed); `progress` follows the catch-up."""
    ntd.catch_up(progress)
    now = ntd.clock.now()
    due = ntd.read_store.due_deadlines(now)
    fired = [] if dry_run else fire_all(ntd.app, due, actor)
    return DeadlineRun(now, due, fired, dry_run)
