"""`ntd access`: who may do what. Name the first admin, grant and revoke roles, list them."""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

import click
from pydantic import ValidationError

from domain.access import Grant, Principal, SellerKey
from domain.values import Actor, Role, problem_text
from ntd.cli.kit import Runtime, pass_runtime, resolve_brand
from ntd.cli.params import ACTOR, TIME, as_option, choice, json_flag
from ntd.cli.render import table
from ntd.formats import when


@click.group()
def access() -> None:
    """Who may do what: roles, granted to principals (KIND:ID) and scoped to a party.

    \b
    Platform staff (agent:ID): agent, account_manager, supervisor, auditor, admin.
    A notifier's users (notifier_user:ID): notifier_admin, reporter, registered_agent
      (each grant names one notifier; a registered agent holds one per notifier it acts for).
    A seller's users (seller:ID): seller_user (each grant names one seller).

    \b
    Examples:
      ntd access init agent:root                        once, on an empty store
      ntd access grant agent:alice agent --as agent:root
      ntd access grant notifier_user:j.moreau notifier_admin --notifier Aurelia --as agent:root
      ntd access grant notifier_user:k.law registered_agent --notifier Aurelia \\
          --notifier Halcyon --as agent:root
      ntd access grant seller:s5-ops seller_user --seller marketly/luxe-deals --as agent:root
      ntd access revoke notifier_user:k.law registered_agent --notifier Aurelia \\
          --reason "mandate ended" --as notifier_user:j.moreau
      ntd access list --as agent:root
    """


@access.command("init")
@click.argument("admin", type=ACTOR)
@pass_runtime
def access_init(rt: Runtime, admin: Actor) -> None:
    """Name the first admin of an empty store (platform staff, agent:ID). It works once per
    store, from the machine that holds it; afterwards admins grant every staff role.

    \b
    Example:
      ntd access init agent:root
    """
    rt.app.name_first_admin(admin)
    click.echo(f"{admin} is the first admin: grant roles with `ntd access grant ... --as {admin}`")


def _grants(
    rt: Runtime, role: str, notifiers: tuple[str, ...], sellers: tuple[str, ...], actor: Actor
) -> list[Grant]:
    """One grant per notifier or seller named (or one unscoped grant for a staff role)."""
    keys = [_seller(text) for text in sellers]
    ids: list[UUID] = []
    for text in notifiers:
        try:
            ids.append(UUID(text))
        except ValueError:  # a name: the read model knows the names the actor may see
            rt.app.notifiers_in_reach("read_dashboard", actor)
            ids.append(resolve_brand(rt.caught_up(), text, actor, hint="'--notifier'"))
    grants = [Grant(role=Role(role), notifier_id=i) for i in ids]
    grants += [Grant(role=Role(role), seller=key) for key in keys]
    return grants or [Grant(role=Role(role))]


def _seller(text: str) -> SellerKey:
    try:
        return SellerKey.parse(text)
    except ValidationError as error:
        problems = "; ".join(problem_text(e) for e in error.errors())
        raise click.BadParameter(f"{text[:60]!r}: {problems}", param_hint="'--seller'") from None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--seller'") from None


GRANTABLE = [r for r in Role if r is not Role.SYSTEM]


@access.command("grant")
@click.argument("principal", type=ACTOR)
@click.argument("role", type=choice(GRANTABLE))
@click.option("--notifier", "notifiers", multiple=True, help="notifier id or name (repeatable)")
@click.option("--seller", "sellers", multiple=True, metavar="MARKETPLACE/SELLER_ID")
@as_option
@pass_runtime
def access_grant(
    rt: Runtime,
    principal: Actor,
    role: str,
    notifiers: tuple[str, ...],
    sellers: tuple[str, ...],
    actor: Actor,
) -> None:
    """Grant a role: staff roles by an admin; a notifier's roles by an admin or that notifier's
    notifier_admin; a seller's by an admin.

    \b
    Examples:
      ntd access grant agent:sofia supervisor --as agent:root
      ntd access grant notifier_user:m.rossi reporter --notifier Aurelia \\
          --as notifier_user:j.moreau
    """
    grants = _grants(rt, role, notifiers, sellers, actor)
    rt.app.grant_roles(principal, grants, actor)  # all or none
    for grant in grants:
        click.echo(f"{principal} now holds {grant}")


@access.command("revoke")
@click.argument("principal", type=ACTOR)
@click.argument("role", type=choice(GRANTABLE))
@click.option("--notifier", "notifiers", multiple=True, help="notifier id or name (repeatable)")
@click.option("--seller", "sellers", multiple=True, metavar="MARKETPLACE/SELLER_ID")
@click.option("--reason", required=True, help="why, kept with the revocation")
@as_option
@pass_runtime
def access_revoke(
    rt: Runtime,
    principal: Actor,
    role: str,
    notifiers: tuple[str, ...],
    sellers: tuple[str, ...],
    reason: str,
    actor: Actor,
) -> None:
    """Revoke a role from now on (what was done under it stays, recorded with its role).

    \b
    Example:
      ntd access revoke notifier_user:k.law registered_agent --notifier Aurelia \\
          --reason "mandate ended" --as notifier_user:j.moreau
    """
    grants = _grants(rt, role, notifiers, sellers, actor)
    rt.app.revoke_roles(principal, grants, reason, actor)  # all or none
    for grant in grants:
        click.echo(f"{principal} no longer holds {grant}")


@access.command("list")
@click.argument("principal", type=ACTOR, required=False)
@click.option("--as-of", type=TIME, help="the grants held at this time (one principal only)")
@json_flag
@as_option
@pass_runtime
def access_list(
    rt: Runtime, principal: Actor | None, as_of: datetime | None, as_json: bool, actor: Actor
) -> None:
    """List who holds which role (everyone, or one principal, now or at a past time).

    \b
    Examples:
      ntd access list --as agent:root
      ntd access list notifier_user:k.law --as-of 2026-11-02T09:00Z --as agent:audrey
    """
    if as_of is not None and principal is None:
        raise click.UsageError("--as-of needs a PRINCIPAL")
    if principal is not None:
        found = [rt.app.principal(principal, actor, as_of)]
    else:
        found = rt.app.principals(actor)
    moment = as_of or rt.now()
    rows = [(p, grant, since) for p in found for grant, since in _held(p, moment)]
    if as_json:
        data = [
            {"principal": str(p.actor), "grant": _grant_json(g), "since": since.isoformat()}
            for p, g, since in rows
        ]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no roles held" + (f" at {when(moment)}" if as_of else ""))
        return
    click.echo(
        table(
            ("PRINCIPAL", "ROLE", "FOR", "SINCE"),
            [(str(p.actor), g.role.value, _party(g), when(since)) for p, g, since in rows],
        )
    )


def _held(principal: Principal, at: datetime) -> list[tuple[Grant, datetime]]:
    return [(p.grant, p.granted_at) for p in principal.periods if p.covers(at)]


def _party(grant: Grant) -> str:
    if grant.notifier_id is not None:
        return f"notifier {grant.notifier_id}"
    if grant.seller is not None:
        return f"seller {grant.seller}"
    return "every party"


def _grant_json(grant: Grant) -> dict[str, str | None]:
    return {
        "role": grant.role.value,
        "notifier_id": str(grant.notifier_id) if grant.notifier_id else None,
        "seller": str(grant.seller) if grant.seller else None,
    }
