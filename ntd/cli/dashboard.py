"""`ntd dashboard`: a brand's figures, as text or JSON."""

from __future__ import annotations

from datetime import datetime

import click

from domain.values import Actor
from ntd.cli.kit import Runtime, pass_runtime, resolve_brand
from ntd.cli.params import TIME, as_option
from ntd.cli.render_dashboard import dashboard_view


@click.command("dashboard")
@click.option("--brand", required=True, help="notifier id or an unambiguous name prefix")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--now", "at", type=TIME, help="figures as of this time [default: now]")
@as_option
@pass_runtime
def dashboard(rt: Runtime, brand: str, fmt: str, at: datetime | None, actor: Actor) -> None:
    """A brand's dashboard: cases by state, rates, time to takedown, deadlines, top sellers
    and its trusted-lane standing with the figures behind it.

    \b
    Examples:
      ntd dashboard --brand Aurelia
      ntd dashboard --brand 0b5f2c1e-7d3a-4e8b-9c61-2f4d5e6a7b8c --format json
    """
    rt.app.notifiers_in_reach("read_dashboard", actor)  # refused before anything is caught up
    ntd = rt.caught_up()
    notifier_id = resolve_brand(ntd, brand, actor)
    ntd.app.may_read("read_dashboard", actor, notifier_id=notifier_id)
    board = ntd.read_store.dashboard(
        notifier_id, at or rt.now(), ntd.app.rules, viewer=str(actor.principal)
    )
    if fmt == "json":
        click.echo(board.model_dump_json(indent=2))
    else:
        click.echo(dashboard_view(board))
