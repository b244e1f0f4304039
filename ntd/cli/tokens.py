"""`ntd tokens`: bearer tokens for the HTTP API and the portal's login."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import click

from domain.values import Actor
from ntd.cli.kit import Runtime, pass_runtime
from ntd.cli.params import ACTOR, ID, as_option, json_flag
from ntd.cli.render import table
from ntd.formats import when

MAX_DAYS = 3650


@click.group()
def tokens() -> None:
    """Bearer tokens: a principal presents one to the API (`Authorization: Bearer …`) or pastes
    it into the portal's login page. A token is shown once, when it is created; ntd keeps only
    its digest. The token authenticates; what its holder may do is still its principal's roles.

    \b
    Examples:
      ntd tokens create notifier_user:j.moreau --expires-days 90 --as agent:root
      ntd tokens list --as agent:root
      ntd tokens revoke 1f0c…  --reason "laptop lost" --as agent:root
    """


@tokens.command("create")
@click.argument("principal", type=ACTOR)
@click.option(
    "--expires-days",
    type=click.IntRange(1, MAX_DAYS),
    help=f"the token stops working after this many days (1–{MAX_DAYS}) [default: never]",
)
@click.option("--label", default="", help="what the token is for, shown by `ntd tokens list`")
@click.option("--quiet", "-q", is_flag=True, help="print the token alone (for scripts)")
@as_option
@pass_runtime
def tokens_create(
    rt: Runtime,
    principal: Actor,
    expires_days: int | None,
    label: str,
    quiet: bool,
    actor: Actor,
) -> None:
    """Create a token for PRINCIPAL (an admin's command) and print it, once.

    \b
    Examples:
      ntd tokens create agent:alice --as agent:root
      ntd tokens create seller:s5-ops --expires-days 30 --label "s5 portal" --as agent:root
    """
    expires = rt.now() + timedelta(days=expires_days) if expires_days else None
    issued = rt.app.issue_token(principal, actor, expires_at=expires, label=label)
    if quiet:
        click.echo(issued.text)
        return
    until = f"until {when(issued.expires_at)}" if issued.expires_at else "with no expiry"
    click.echo(f"token {issued.token_id} for {issued.principal}, {until}:")
    click.echo(f"  {issued.text}")
    click.echo("It is shown only now: ntd keeps its digest, not the token.", err=True)


@tokens.command("revoke")
@click.argument("token_id", type=ID)
@click.option("--reason", required=True, help="why (kept with the revocation)")
@as_option
@pass_runtime
def tokens_revoke(rt: Runtime, token_id: UUID, reason: str, actor: Actor) -> None:
    """Revoke a token by its id (see `ntd tokens list`): every later request with it is
    refused, and a portal session opened with it ends.

    \b
    Example:
      ntd tokens revoke 1f0c2d3e-… --reason "laptop lost" --as agent:root
    """
    rt.app.revoke_token(token_id, reason, actor)
    click.echo(f"token {token_id} revoked")


@tokens.command("list")
@json_flag
@as_option
@pass_runtime
def tokens_list(rt: Runtime, as_json: bool, actor: Actor) -> None:
    """Every token issued, without its secret: whose, since when, until when, revoked when.

    \b
    Example:
      ntd tokens list --as agent:root
    """
    found = rt.app.tokens(actor)
    if as_json:
        click.echo("[" + ",".join(t.model_dump_json() for t in found) + "]")
        return
    if not found:
        click.echo("no tokens")
        return
    rows = [
        (
            str(t.token_id),
            str(t.principal),
            t.label or "-",
            when(t.issued_at),
            when(t.expires_at),
            when(t.revoked_at),
        )
        for t in found
    ]
    click.echo(table(("TOKEN", "PRINCIPAL", "LABEL", "ISSUED", "EXPIRES", "REVOKED"), rows))
