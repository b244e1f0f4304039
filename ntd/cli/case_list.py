"""`ntd case list`: the cases the viewer may read, filtered, as a table, JSON or CSV."""

from __future__ import annotations

from datetime import datetime

import click

from domain.access import SellerKey
from domain.case import Lane, State
from domain.values import Actor, ActorKind
from ntd import reads
from ntd.cli.kit import Runtime, pass_runtime, resolve_brand
from ntd.cli.params import LIMIT, SELLER, TIME, as_option, choice
from ntd.cli.render_queue import FORMATS, case_rows, emit


@click.command("list")
@click.option("--notifier", help="notifier id or an unambiguous name prefix")
@click.option(
    "--seller",
    type=SELLER,
    metavar="MARKETPLACE/SELLER_ID",
    help="one seller's cases (a seller's user must name its own seller)",
)
@click.option("--state", "states", multiple=True, type=choice(State), help="repeatable")
@click.option("--lane", type=choice(Lane))
@click.option(
    "--due-before",
    type=TIME,
    help="only cases with an open deadline due by then (their nearest one)",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--limit", type=LIMIT, default=100, show_default=True)
@as_option
@pass_runtime
def case_list(
    rt: Runtime,
    notifier: str | None,
    seller: SellerKey | None,
    states: tuple[str, ...],
    lane: str | None,
    due_before: datetime | None,
    fmt: str,
    limit: int,
    actor: Actor,
) -> None:
    """List the cases you may read, the latest filed first: platform staff every notifier's,
    a notifier's user its notifiers', a seller's user its own seller's (with what it may
    still do and by when in the NEXT column).

    \b
    Examples:
      ntd case list --notifier Aurelia --state taken_down --state counter_noticed
      ntd case list --due-before 2026-12-01 --format csv > due.csv
      ntd case list --seller marketly/luxe-deals --as seller:s5-ops
    """
    as_seller = actor.kind is ActorKind.SELLER
    if as_seller and seller is None:
        raise click.UsageError(
            "a seller's user lists its own seller's cases: give --seller MARKETPLACE/SELLER_ID"
        )
    notifier_id = (
        None
        if notifier is None
        else resolve_brand(
            rt.ntd(), notifier, actor, "read_cases", "'--notifier'", caught_up=rt.catch_up
        )
    )
    filters = reads.CaseFilters(
        notifier_id=notifier_id,
        seller=seller,
        states=tuple(State(s) for s in states),
        lane=Lane(lane) if lane else None,
        due_before=due_before,
        limit=limit,
    )
    page = reads.case_lines(rt.ntd(), actor, filters, rt.catch_up)
    formats, rows = case_rows(page.lines, rt.now(), seller=as_seller)
    more = page.next_cursor is not None
    emit(fmt, formats, rows, more, limit, empty="no cases match")
