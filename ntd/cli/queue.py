"""`ntd queue`: the platform staff's work queue, or a notifier's "needs your action" list."""

from __future__ import annotations

import click

from domain.case import Deadline, Lane, State
from domain.values import Actor, ActorKind
from ntd.cli.kit import Refused, Runtime, pass_runtime, resolve_brand
from ntd.cli.params import as_option, choice
from ntd.cli.render_queue import FORMATS, action_rows, emit, queue_rows
from projections.models import CaseQuery


@click.command("queue")
@click.option("--notifier", help="only this notifier's cases (id or unambiguous name prefix)")
@click.option("--lane", type=choice(Lane))
@click.option("--state", "states", multiple=True, type=choice(State), help="repeatable")
@click.option(
    "--deadline",
    type=choice(Deadline),
    help="only cases with this deadline open, ordered by it",
)
@click.option(
    "--brand",
    help="instead: what awaits this notifier's action (its users see their own notifier's)",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@as_option
@pass_runtime
def queue(
    rt: Runtime,
    notifier: str | None,
    lane: str | None,
    states: tuple[str, ...],
    deadline: str | None,
    brand: str | None,
    fmt: str,
    limit: int,
    actor: Actor,
) -> None:
    """The work queue: open cases, trusted-lane takedowns awaiting their review first, then
    the cases of the notifiers you are the account manager of, then by the nearest due
    deadline (cases without one last, oldest first). UNREAD counts the case's messages you
    have not read (`ntd case show` marks them read).

    With --brand, what awaits a notifier instead: clarification and identification requests
    to answer (by when), counter-notices forwarded to it (the listing is restored on the date
    given unless it reports litigation), and unread messages.

    \b
    Examples:
      ntd queue --as agent:alice
      ntd queue --deadline review --lane trusted
      ntd queue --notifier Aurelia --format json
      ntd queue --brand Aurelia --as notifier_user:j.moreau
    """
    reach = rt.app.notifiers_in_reach("read_cases", actor)  # refused before any catch-up
    if brand is not None:
        _needs_action(rt, brand, fmt, actor)
        return
    if reach is not None:
        if actor.kind is ActorKind.SELLER:
            raise Refused(
                "the work queue is the platform staff's; a seller's user lists its cases with "
                "`ntd case list --seller MARKETPLACE/SELLER_ID`"
            )
        raise Refused(
            "the work queue is the platform staff's; a notifier's user sees what awaits it "
            "with `ntd queue --brand NOTIFIER`"
        )
    ntd = rt.caught_up()
    notifier_id = (
        None
        if notifier is None
        else resolve_brand(ntd, notifier, actor, what="read_cases", hint="'--notifier'")
    )
    query = CaseQuery(
        notifier_id=notifier_id,
        lane=Lane(lane) if lane else None,
        states=tuple(State(s) for s in states),
        deadline=Deadline(deadline) if deadline else None,
        viewer=str(actor),
        limit=limit + 1,
    )
    lines = ntd.read_store.queue(query)
    formats, rows = queue_rows(lines[:limit], rt.now(), str(actor), query.deadline)
    emit(fmt, formats, rows, len(lines) > limit, limit, empty="the queue is empty")


def _needs_action(rt: Runtime, brand: str, fmt: str, actor: Actor) -> None:
    if actor.kind is ActorKind.SELLER:
        raise Refused("a seller never sees a notifier's list (see `ntd case list --seller`)")
    ntd = rt.caught_up()
    notifier_id = resolve_brand(ntd, brand, actor, what="read_cases")
    ntd.app.may_read("read_cases", actor, notifier_id=notifier_id)
    items = ntd.read_store.needs_action(frozenset({notifier_id}), str(actor))
    formats, rows = action_rows(items, rt.now())
    emit(fmt, formats, rows, False, len(rows), empty="nothing awaits this notifier's action")
