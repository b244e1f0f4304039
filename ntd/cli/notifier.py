"""`ntd notifier`: register notifiers, their IP rights and their standing (trusted lane,
misuse warnings and suspensions)."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import click

from domain.notifier import NotifierKind
from domain.values import Actor, RightType
from ntd.cli.kit import Runtime, catch_up_bar, pass_runtime
from ntd.cli.params import ACTOR, DAYS, ID, as_option, choice, json_flag, quiet_flag
from ntd.cli.render import escape, notifier_view, plain, table
from ntd.formats import pct, when
from ntd.inputs import InputError, sha256_of
from ntd.notifiers import warn_notifier


@click.group()
def notifier() -> None:
    """Register notifiers (brands, agents, trade associations), their IP rights and standing.

    \b
    Examples:
      ntd notifier register --name "Aurelia Leather" --kind brand --email legal@aurelia.example
      ntd notifier add-right NOTIFIER --type trademark --number 018234567 \\
          --jurisdiction EU --certificate certificate.pdf
      ntd notifier verify-right NOTIFIER RIGHT --as agent:sofia   (a supervisor)
      ntd notifier assign-manager NOTIFIER agent:marco --as agent:sofia
      ntd notifier show NOTIFIER
    """


@notifier.command("register")
@click.option("--name", required=True, help="the notifier's name")
@click.option("--kind", type=choice(NotifierKind), default="brand", show_default=True)
@click.option("--email", required=True, help="contact address for decisions and questions")
@click.option("--id", "notifier_id", type=ID, help="choose the id (default: a new one)")
@as_option
@quiet_flag
@pass_runtime
def notifier_register(
    rt: Runtime,
    name: str,
    kind: str,
    email: str,
    notifier_id: UUID | None,
    actor: Actor,
    quiet: bool,
) -> None:
    """Register a brand, agent or trade association; prints its id.

    \b
    Examples:
      ntd notifier register --name "Aurelia Leather" --kind brand --email legal@aurelia.example
      ntd notifier register --name "Vigilant IP" --kind agent --email ops@vigilant.example \\
          --as agent:onboarding
      NOTIFIER=$(ntd notifier register --name "Halcyon" --email legal@halcyon.example -q)
    """
    new_id = rt.app.register_notifier(name, NotifierKind(kind), email, actor, notifier_id)
    if quiet:
        click.echo(str(new_id))
        return
    click.echo(escape(f"notifier {new_id} registered: {name} ({kind})"))
    click.echo(
        f"next: ntd notifier add-right {new_id} --type trademark --number NUMBER "
        "--jurisdiction EU --certificate FILE"
    )


@notifier.command("add-right")
@click.argument("notifier_id", type=ID)
@click.option("--type", "right_type", type=choice(RightType), required=True)
@click.option("--number", required=True, help="registration number")
@click.option("--jurisdiction", required=True, help="e.g. EU, US, GB, CN")
@click.option("--certificate-sha256", "sha256", help="SHA-256 of the registration certificate")
@click.option(
    "--certificate",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the certificate file; its SHA-256 is recorded (the file is not stored)",
)
@as_option
@quiet_flag
@pass_runtime
def notifier_add_right(
    rt: Runtime,
    notifier_id: UUID,
    right_type: str,
    number: str,
    jurisdiction: str,
    sha256: str | None,
    certificate: Path | None,
    actor: Actor,
    quiet: bool,
) -> None:
    """Register an IP right awaiting verification; prints the right's id.

    \b
    Examples:
      ntd notifier add-right NOTIFIER --type trademark --number 018234567 --jurisdiction EU \\
          --certificate euipo-018234567.pdf
      ntd notifier add-right NOTIFIER --type design --number 008812345-0001 \\
          --jurisdiction EU --certificate-sha256 9f86d081884c7d65...
    """
    if (sha256 is None) == (certificate is None):
        raise click.UsageError("give exactly one of --certificate FILE or --certificate-sha256")
    digest = (
        sha256
        if sha256 is not None  # an empty digest is the domain's to refuse, not a file to hash
        else _certificate_digest(certificate, rt.settings.max_certificate_bytes)
    )
    right_id = rt.app.register_right(
        notifier_id, RightType(right_type), number, jurisdiction, digest, actor
    )
    if quiet:
        click.echo(str(right_id))
        return
    click.echo(f"right {right_id} registered for notifier {notifier_id}: pending verification")
    click.echo(f"next: ntd notifier verify-right {notifier_id} {right_id} --as agent:NAME")


def _certificate_digest(certificate: Path | None, limit: int) -> str:
    """The certificate's SHA-256, hashed in chunks within the configured size."""
    assert certificate is not None
    try:
        return sha256_of(certificate, limit)
    except InputError as error:
        raise click.BadParameter(str(error), param_hint="'--certificate'") from None


@notifier.command("verify-right")
@click.argument("notifier_id", type=ID)
@click.argument("right_id", type=ID)
@as_option
@pass_runtime
def notifier_verify_right(rt: Runtime, notifier_id: UUID, right_id: UUID, actor: Actor) -> None:
    """Mark a right verified: it may now back notices.

    \b
    Example:
      ntd notifier verify-right NOTIFIER RIGHT --as agent:alice
    """
    rt.app.verify_right(notifier_id, right_id, actor)
    click.echo(f"right {right_id} of notifier {notifier_id} verified")


@notifier.command("reject-right")
@click.argument("notifier_id", type=ID)
@click.argument("right_id", type=ID)
@click.option("--reason", required=True, help="why, as the notifier will read it")
@as_option
@pass_runtime
def notifier_reject_right(
    rt: Runtime, notifier_id: UUID, right_id: UUID, reason: str, actor: Actor
) -> None:
    """Refuse a right, with the reason the notifier will see.

    \b
    Example:
      ntd notifier reject-right NOTIFIER RIGHT --reason "certificate does not match the register"
    """
    rt.app.reject_right(notifier_id, right_id, reason, actor)
    click.echo(f"right {right_id} of notifier {notifier_id} rejected")


@notifier.command("admit")
@click.argument("notifier_id", type=ID)
@click.option("--reason", required=True, help="why, in words: it is shown with the admission")
@click.option(
    "--takedown-share", hidden=True, expose_value=False, callback=lambda *a: _no_figure(*a)
)
@click.option(
    "--reversal-share", hidden=True, expose_value=False, callback=lambda *a: _no_figure(*a)
)
@click.option("--notices", hidden=True, expose_value=False, callback=lambda *a: _no_figure(*a))
@as_option
@pass_runtime
def notifier_admit(rt: Runtime, notifier_id: UUID, reason: str, actor: Actor) -> None:
    """A supervisor admits a notifier to the Good Faith Takedown (trusted) lane by judgement.

    The admission is recorded as manual, with its reason. Admissions on the figures need no
    command: the policies admit a notifier whose figures (computed by ntd from its decided
    cases, see `ntd config`) meet the rules.

    \b
    Example:
      ntd notifier admit NOTIFIER --reason "Pilot brand: test buys confirmed 40 of 40" \\
          --as agent:sofia
    """
    rt.app.admit_manually(notifier_id, reason, actor)
    click.echo(escape(f"notifier {notifier_id} admitted to the trusted lane (manual: {reason})"))


def _no_figure(ctx: click.Context, param: click.Parameter, value: object) -> None:
    """Trusted-lane figures are computed by ntd, never taken from the caller."""
    if value is not None:
        raise click.UsageError(
            f"--{(param.name or '').replace('_', '-')} is not taken: trusted-lane figures are "
            "computed by ntd from the notifier's decided cases; a supervisor's admission "
            "gives --reason instead",
            ctx,
        )


@notifier.command("remove")
@click.argument("notifier_id", type=ID)
@click.option("--reason", required=True)
@as_option
@pass_runtime
def notifier_remove(rt: Runtime, notifier_id: UUID, reason: str, actor: Actor) -> None:
    """Take a notifier out of the trusted lane; it may re-apply after the policy period.

    \b
    Example:
      ntd notifier remove NOTIFIER --reason "reversal share 9.1 % over 13 weeks (max 5 %)"
    """
    rt.app.remove_from_trusted_lane(notifier_id, reason, actor)
    click.echo(f"notifier {notifier_id} removed from the trusted lane")


@notifier.command("warn")
@click.argument("notifier_id", type=ID)
@click.option("--reason", required=True)
@click.option(
    "--unfounded-share", hidden=True, expose_value=False, callback=lambda *a: _no_figure(*a)
)
@as_option
@pass_runtime
def notifier_warn(rt: Runtime, notifier_id: UUID, reason: str, actor: Actor) -> None:
    """Warn a notifier for manifestly unfounded notices (DSA Art. 23); the warning cites the
    notifier's decline rate, computed by ntd.

    \b
    Example:
      ntd notifier warn NOTIFIER --reason "41 % of notices declined as unfounded in 8 weeks"
    """
    with catch_up_bar() as tick:
        share = warn_notifier(rt.ntd(), notifier_id, reason, actor, progress=tick)
    click.echo(f"notifier {notifier_id} warned (unfounded share {pct(share)})")


@notifier.command("suspend")
@click.argument("notifier_id", type=ID)
@click.option("--reason", required=True)
@click.option("--days", type=DAYS, help="length [default: the policy's]")
@as_option
@pass_runtime
def notifier_suspend(
    rt: Runtime, notifier_id: UUID, reason: str, days: int | None, actor: Actor
) -> None:
    """Suspend a warned notifier's filing for a period (DSA Art. 23).

    \b
    Example:
      ntd notifier suspend NOTIFIER --reason "unfounded share 55 % after a warning" --days 30
    """
    rt.app.suspend_notifier(notifier_id, reason, days, actor)
    until = rt.app.notifier(notifier_id, actor).suspended_until
    click.echo(f"notifier {notifier_id} suspended until {when(until)}")


@notifier.command("assign-manager")
@click.argument("notifier_id", type=ID)
@click.argument("manager", type=ACTOR)
@as_option
@pass_runtime
def notifier_assign_manager(rt: Runtime, notifier_id: UUID, manager: Actor, actor: Actor) -> None:
    """Make a platform account manager (agent:ID holding account_manager) the notifier's
    manager, in place of any earlier one; a supervisor's command. The history is kept.

    \b
    Examples:
      ntd access grant agent:marco account_manager --as agent:root
      ntd notifier assign-manager NOTIFIER agent:marco --as agent:sofia
    """
    rt.app.assign_manager(notifier_id, manager, actor)
    click.echo(f"notifier {notifier_id}: account manager {manager.principal}")


@notifier.command("list")
@as_option
@pass_runtime
def notifier_list(rt: Runtime, actor: Actor) -> None:
    """List notifiers with their lane and case count (from the read model).

    \b
    Example:
      ntd notifier list
    """
    rt.app.may_read("read_dashboard", actor)
    rows = sorted(rt.caught_up().read_store.notifiers(), key=lambda n: (-n.cases, n.name))
    if not rows:
        click.echo("no notifiers yet (ntd notifier register --help, or ntd demo)")
        return
    click.echo(
        table(
            ("NOTIFIER", "NAME", "TRUSTED LANE", "CASES"),
            [(str(n.notifier_id), n.name, n.in_trusted_lane, n.cases) for n in rows],
        )
    )


@notifier.command("show")
@click.argument("notifier_id", type=ID)
@json_flag
@as_option
@pass_runtime
def notifier_show(rt: Runtime, notifier_id: UUID, as_json: bool, actor: Actor) -> None:
    """Show a notifier: its account manager, its rights and their status, and its standing.

    \b
    Example:
      ntd notifier show NOTIFIER
    """
    n = rt.app.notifier(notifier_id, actor)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "notifier_id": str(n.id),
                    "name": n.name,
                    "kind": n.kind.value,
                    "contact_email": n.contact_email,
                    "version": n.version,
                    "rights": [plain(r) for r in n.rights.values()],
                    "in_trusted_lane": n.in_trusted_lane,
                    "may_reapply_on": plain(n.may_reapply_on),
                    "warnings": n.warnings,
                    "suspended_until": plain(n.suspended_until),
                    "account_manager": str(n.account_manager) if n.account_manager else None,
                    "account_managers": [
                        {
                            "manager": str(t.manager),
                            "assigned_at": plain(t.assigned_at),
                            "assigned_by": str(t.assigned_by),
                        }
                        for t in n.managers
                    ],
                },
                indent=2,
            )
        )
        return
    click.echo(notifier_view(n, rt.now()))
