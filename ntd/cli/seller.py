"""`ntd seller`: a seller's record (strikes, suspension) and a supervisor's lifting of a
suspension."""

from __future__ import annotations

import json
from uuid import UUID

import click
from pydantic import ValidationError

from domain.access import SellerKey
from domain.seller import Seller
from domain.values import Actor
from ntd.cli.kit import Runtime, pass_runtime
from ntd.cli.params import as_option, json_flag
from ntd.cli.render import escape, plain, table
from ntd.formats import when


@click.group()
def seller() -> None:
    """A seller's record: its strikes and suspension (the policies keep them; a supervisor may
    lift a suspension with reasons).

    \b
    Examples:
      ntd seller show marketly/luxe-deals --as agent:alice
      ntd seller lift-suspension marketly/luxe-deals --reason "Strikes were for one stock lot, \\
          since destroyed under supervision" --as agent:sofia
    """


def _seller_id(text: str) -> tuple[SellerKey, UUID]:
    try:
        key = SellerKey.parse(text)
    except (ValueError, ValidationError):
        raise click.BadParameter(
            f"{text[:60]!r} is not a seller: expected MARKETPLACE/SELLER_ID", param_hint="'SELLER'"
        ) from None
    return key, Seller.id_for(key.marketplace, key.seller_ref)


@seller.command("show")
@click.argument("seller_ref", metavar="MARKETPLACE/SELLER_ID")
@json_flag
@as_option
@pass_runtime
def seller_show(rt: Runtime, seller_ref: str, as_json: bool, actor: Actor) -> None:
    """Show a seller's strikes (live and expired) and its suspension.

    \b
    Example:
      ntd seller show marketly/luxe-deals --as agent:alice
    """
    key, seller_id = _seller_id(seller_ref)
    s = rt.app.seller(seller_id, actor)
    now = rt.now()
    if as_json:
        data = {
            "seller_id": str(s.id),
            "seller": str(key),
            "suspended": s.is_suspended(now),
            "suspended_until": plain(s.suspended_until),
            "live_strikes": s.live_strikes(now),
            "strikes": [plain(strike) for strike in s.strikes.values()],
        }
        click.echo(json.dumps(data, indent=2))
        return
    state = "suspended" if s.is_suspended(now) else "not suspended"
    if s.is_suspended(now):
        state += f" until {when(s.suspended_until)}" if s.suspended_until else " (no term)"
    click.echo(f"seller {key} ({s.id}): {state}; {s.live_strikes(now)} live strikes")
    rows = [
        (
            str(x.case_id),
            when(x.recorded_at),
            when(x.expires_at),
            "live" if x.expires_at > now else "expired",
        )
        for x in sorted(s.strikes.values(), key=lambda x: x.recorded_at)
    ]
    if rows:
        click.echo(table(("CASE", "RECORDED", "EXPIRES", ""), rows))


@seller.command("lift-suspension")
@click.argument("seller_ref", metavar="MARKETPLACE/SELLER_ID")
@click.option("--reason", required=True, help="why, kept with the lifting and shown to the seller")
@as_option
@pass_runtime
def seller_lift(rt: Runtime, seller_ref: str, reason: str, actor: Actor) -> None:
    """A supervisor lifts a seller's suspension before its term, with reasons.

    \b
    Example:
      ntd seller lift-suspension marketly/luxe-deals --reason "Appeal to the supervisor upheld" \\
          --as agent:sofia
    """
    key, seller_id = _seller_id(seller_ref)
    rt.app.lift_seller_suspension(seller_id, reason, actor)
    click.echo(escape(f"seller {key}: suspension lifted ({reason})"))
