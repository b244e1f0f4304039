"""`ntd demo`: build a realistic marketplace to explore (the simulation is in ntd/demo/)."""

from __future__ import annotations

import click

from ntd.cli.kit import Refused, Runtime, pass_runtime


@click.command("demo")
@click.option(
    "--size",
    type=click.FloatRange(0.01, 10),
    default=1.0,
    show_default=True,
    help="scale factor: 1.0 ≈ 3,000 notices",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=2026,
    show_default=True,
    help="same seed, same notifiers, notices and case ids",
)
@click.option(
    "--weeks",
    type=click.IntRange(2, 52),
    default=8,
    show_default=True,
    help="simulated weeks, ending now",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="first delete the stores ntd created in the data dir (see above)",
)
@pass_runtime
def demo(rt: Runtime, size: float, seed: int, weeks: int, fresh: bool) -> None:
    """Build a realistic marketplace: brands, rights, sellers and thousands of notices
    decided over simulated weeks, then show dashboards, an audit excerpt and what to try.

    Refuses to run on a store that already holds events unless --fresh is given. --fresh
    deletes only SQLite stores inside the data dir that carry ntd's mark (set when ntd created
    them) with their -wal, -shm and -journal files; anything else (another file, a path outside
    the data dir, a symbolic link, a store of an older ntd) makes it delete nothing.

    \b
    Examples:
      ntd demo
      ntd demo --size 0.2 --seed 7 --fresh
      ntd --data-dir /tmp/ntd-demo demo --weeks 12
    """
    from ntd.demo import DemoError, run_demo

    try:
        run_demo(rt.settings, size=size, seed=seed, weeks=weeks, fresh=fresh)
    except DemoError as error:
        raise Refused(str(error)) from None
