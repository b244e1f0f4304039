"""`ntd queue`: the platform staff's work queue, or a notifier's "needs your action" list."""

from __future__ import annotations

import click

from domain.case import Deadline, Lane, State
from domain.values import Actor, ActorKind
from ntd import reads
from ntd.cli.kit import Refused, Runtime, pass_runtime, resolve_brand
from ntd.cli.params import LIMIT, as_option, choice
from ntd.cli.render_queue import FORMATS, action_rows, emit, queue_rows

ELSEWHERE = reads.Elsewhere(
    seller="a seller's user lists its cases with `ntd case list --seller MARKETPLACE/SELLER_ID`",
    notifier="a notifier's user sees what awaits it with `ntd queue --brand NOTIFIER`",
)


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
@click.option("--limit", type=LIMIT, default=100, show_default=True)
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
    if brand is not None:
        _needs_action(rt, brand, fmt, actor)
        return
    notifier_id = (
        None
        if notifier is None
        else resolve_brand(
            rt.ntd(), notifier, actor, "read_cases", "'--notifier'", caught_up=rt.catch_up
        )
    )
    filters = reads.QueueFilters(
        notifier_id=notifier_id,
        lane=Lane(lane) if lane else None,
        states=tuple(State(s) for s in states),
        deadline=Deadline(deadline) if deadline else None,
        limit=limit + 1,
    )
    lines = reads.queue_lines(rt.ntd(), actor, filters, rt.catch_up, ELSEWHERE)
    formats, rows = queue_rows(lines[:limit], rt.now(), str(actor), filters.deadline)
    emit(fmt, formats, rows, len(lines) > limit, limit, empty="the queue is empty")


def _needs_action(rt: Runtime, brand: str, fmt: str, actor: Actor) -> None:
    if actor.kind is ActorKind.SELLER:
        raise Refused("a seller never sees a notifier's list (see `ntd case list --seller`)")
    notifier_id = resolve_brand(rt.ntd(), brand, actor, "read_cases", caught_up=rt.catch_up)
    items = reads.needs_action(rt.ntd(), actor, notifier_id, rt.catch_up)
    formats, rows = action_rows(items, rt.now())
    emit(fmt, formats, rows, False, len(rows), empty="nothing awaits this notifier's action")
