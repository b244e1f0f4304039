"""`ntd deadlines`: list the case deadlines that are due and fire them."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import structlog

from domain.case import Deadline
from domain.values import SYSTEM, Actor
from ntd.bootstrap import FixedClock
from ntd.cli.kit import Refused, Runtime, catch_up_bar, pass_runtime
from ntd.cli.params import TIME, as_option
from ntd.cli.render import cell, plain, table
from ntd.deadlines import fire_due_deadlines
from ntd.formats import relative, when
from projections.models import DueDeadline

log = structlog.get_logger("ntd.cli")


@click.group()
def deadlines() -> None:
    """List and fire case deadlines (clarification, review, counter-notice, restoration).

    A passed deadline is itself an event with the effect the lifecycle gives it: a lapsed
    clarification, a closed appeal window, a restored listing.

    \b
    Examples:
      ntd deadlines list
      ntd deadlines run --dry-run
      ntd deadlines run                        (e.g. from cron every 15 minutes)
      ntd deadlines run --now 2026-12-20T09:00Z --rehearsal
    """


@deadlines.command("list")
@click.option("--until", type=TIME, help="deadlines due by this time [default: now]")
@as_option
@pass_runtime
def deadlines_list(rt: Runtime, until: datetime | None, actor: Actor) -> None:
    """List open deadlines that are due (or due by --until).

    \b
    Examples:
      ntd deadlines list
      ntd deadlines list --until 2026-12-31
    """
    rt.app.may_read("read_cases", actor)
    ntd = rt.caught_up()
    now = rt.now()
    due = ntd.read_store.due_deadlines(until or now)
    if not due:
        click.echo(f"no deadlines due by {when(until or now)}")
        return
    click.echo(
        table(
            ("CASE", "DEADLINE", "DUE", ""),
            [
                (
                    str(d.case_id),
                    cell(d.deadline),
                    when(d.due_at),
                    relative(d.due_at, now),
                )
                for d in due
            ],
        )
    )
    click.echo(f"{len(due)} deadline{'s' if len(due) != 1 else ''} due by {when(until or now)}")


@deadlines.command("run")
@click.option("--now", "at", type=TIME, help="run as if it were this time [default: now]")
@click.option("--dry-run", is_flag=True, help="show what would fire; change nothing")
@click.option(
    "--rehearsal",
    is_flag=True,
    help="allow a --now later than the clock: fire deadlines early, recording future times "
    "that every later step of those cases must follow",
)
@as_option
@pass_runtime
def deadlines_run(
    rt: Runtime, at: datetime | None, dry_run: bool, rehearsal: bool, actor: Actor
) -> None:
    """Fire every due deadline: record it missed and apply its effect. An operator (admin or
    supervisor) starts the run; the deadline events are the system's.

    \b
    Examples:
      ntd deadlines run
      ntd deadlines run --dry-run
      ntd deadlines run --now 2026-12-20T09:00Z --rehearsal
    """
    clock = rt.settings.now or datetime.now(UTC)  # not rt.now(): that would build ntd first
    if at is not None and not dry_run and not rehearsal and at > clock:
        raise Refused(
            f"--now {at.isoformat()} is later than the clock ({clock.isoformat()}): firing "
            "then records future times, and a case's later steps could not be recorded before "
            "them; add --rehearsal to do it anyway, or --dry-run to look"
        )
    ntd = rt.ntd(FixedClock(at) if at else None)
    ntd.app.may_read("operate", actor)
    with catch_up_bar() as tick:
        run = fire_due_deadlines(ntd, SYSTEM, dry_run, progress=tick)
    for d in run.due if dry_run else []:
        click.echo(f"would fire  {_deadline_head(d)}")
    for f in run.fired:
        if f.case is None:
            click.echo(f"skipped     {_deadline_head(f.due)}: {f.skipped}")
        else:
            log.debug("deadline fired", case_id=str(f.due.case_id), deadline=f.due.deadline.value)
            click.echo(f"fired       {_deadline_head(f.due)}  → {f.case.state.value}")
    moment = when(run.now)
    if dry_run:
        click.echo(f"{len(run.due)} due at {moment} (dry run: nothing fired)")
    else:
        click.echo(
            f"{run.fired_count} fired, {run.skipped_count} skipped, "
            f"of {len(run.due)} due at {moment}"
        )


def _deadline_head(d: DueDeadline) -> str:
    kind = Deadline(plain(d.deadline))
    return f"{kind.value:<15} case {d.case_id}  due {when(d.due_at)}"
