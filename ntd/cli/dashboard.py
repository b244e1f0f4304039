"""`ntd dashboard`: a brand's figures, as text or JSON."""

from __future__ import annotations

from datetime import datetime

import click

from domain.values import Actor
from ntd import reads
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
    notifier_id = resolve_brand(rt.ntd(), brand, actor, caught_up=rt.catch_up)
    board = reads.dashboard(rt.ntd(), actor, notifier_id, at or rt.now(), rt.catch_up)
    if fmt == "json":
        click.echo(board.model_dump_json(indent=2))
    else:
        click.echo(dashboard_view(board))
