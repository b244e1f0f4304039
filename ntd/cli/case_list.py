"""`ntd case list`: the cases the viewer may read, filtered, as a table, JSON or CSV."""

from __future__ import annotations

from datetime import datetime

import click

from domain.access import SellerKey
from domain.case import Lane, State
from domain.values import Actor, ActorKind
from ntd.cli.kit import Runtime, pass_runtime, resolve_brand
from ntd.cli.params import TIME, as_option, choice
from ntd.cli.render_queue import FORMATS, case_rows, emit
from projections.models import CaseQuery


@click.command("list")
@click.option("--notifier", help="notifier id or an unambiguous name prefix")
@click.option(
    "--seller",
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
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@as_option
@pass_runtime
def case_list(
    rt: Runtime,
    notifier: str | None,
    seller: str | None,
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
    reach = rt.app.notifiers_in_reach("read_cases", actor)  # refused before any catch-up
    key = _seller(seller)
    as_seller = actor.kind is ActorKind.SELLER
    if as_seller:
        if key is None:
            raise click.UsageError(
                "a seller's user lists its own seller's cases: give --seller MARKETPLACE/SELLER_ID"
            )
        rt.app.may_read("read_cases", actor, seller=key)  # another seller's: not found
    ntd = rt.caught_up()
    notifier_id = (
        None
        if notifier is None
        else resolve_brand(ntd, notifier, actor, what="read_cases", hint="'--notifier'")
    )
    query = CaseQuery(
        reach=None if as_seller else reach,
        notifier_id=notifier_id,
        marketplace=key.marketplace if key else None,
        seller_id=key.seller_ref if key else None,
        states=tuple(State(s) for s in states),
        lane=Lane(lane) if lane else None,
        due_before=due_before,
        viewer=None if as_seller else str(actor),
        for_seller=as_seller,
        limit=limit + 1,
    )
    lines = ntd.read_store.case_list(query)
    formats, rows = case_rows(lines[:limit], rt.now(), seller=as_seller)
    emit(fmt, formats, rows, len(lines) > limit, limit, empty="no cases match")


def _seller(text: str | None) -> SellerKey | None:
    if text is None:
        return None
    try:
        return SellerKey.parse(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--seller'") from None
