"""`ntd policies`: run the policies (strikes, seller suspension, trusted lane, misuse) now."""

from __future__ import annotations

import json
from datetime import datetime

import click

from domain.values import Actor
from ntd.cli.kit import Refused, Runtime, catch_up_bar, pass_runtime
from ntd.cli.params import TIME, as_option, json_flag
from ntd.cli.render_what_if import what_if_data, what_if_text
from ntd.policies import NotEmbedded, run_policies
from ntd.what_if import BadRules, proposed_rules, what_if

OUTCOMES = {
    "RecordStrike": "strikes recorded",
    "RemoveStrike": "strikes removed",
    "SuspendSeller": "sellers suspended",
    "LiftSellerSuspension": "seller suspensions lifted",
    "AdmitToTrustedLane": "notifiers admitted to the trusted lane",
    "RemoveFromTrustedLane": "notifiers removed from the trusted lane",
    "WarnNotifier": "notifiers warned for misuse",
    "SuspendNotifier": "notifiers suspended for misuse",
}


@click.group("policies")
def policies() -> None:
    """The policies: what ntd does by itself about what happened (docs/domain.md, standing and
    penalties). A strike per final takedown, one per notice (removed when the takedown is
    undone, expired after the strike lifetime), seller suspension at the strike limit for a term
    (lifted when removed strikes leave too few), trusted-lane admission and removal on the
    trailing figures, misuse warnings and suspensions.

    In embedded mode (NTD_FEED=log) they run whenever ntd catches up with its log, e.g. before
    a dashboard; with NTD_FEED=kafka they run in `ntd consume policies`.

    \b
    Examples:
      ntd policies run
      ntd policies run --json
      ntd policies what-if --rules '{"strikes_to_suspend": 2}'
    """


@policies.command("run")
@click.option(
    "--replay",
    is_flag=True,
    help="forget what the policies' view holds and go over the whole log again (after an "
    "upgrade that changed the rules' inputs); what they already did is found already done",
)
@json_flag
@as_option
@pass_runtime
def run(rt: Runtime, replay: bool, as_json: bool, actor: Actor) -> None:
    """Catch the projections and the policies up with the event log now, and say what the
    policies did. Events already handled are not handled again; a command found already done
    (e.g. after a crash) changes nothing.

    \b
    Examples:
      ntd policies run
      ntd policies run --json | jq .acted
      ntd policies run --replay             once after upgrading (see the README)
    """
    rt.app.may_read("operate", actor)
    if replay:
        if rt.settings.feed != "log":
            raise Refused(
                "--replay goes over the event log (NTD_FEED=log); with NTD_FEED=kafka the "
                "policies consumer keeps its own view"
            )
        rt.ntd().policy_store.reset()
    try:
        with catch_up_bar() as tick:
            report = run_policies(rt.ntd(), tick)
    except NotEmbedded as error:
        raise Refused(str(error)) from None
    if as_json:
        acted = dict(sorted(report.acted.items()))
        refused = dict(sorted(report.refused.items()))
        click.echo(
            json.dumps(
                {
                    "events": report.events,
                    "acted": acted,
                    "already_done": report.already,
                    "refused": refused,
                },
                indent=2,
            )
        )
        return
    click.echo(f"policies: {report.events:,} events handled")
    for name, label in OUTCOMES.items():
        if report.acted[name]:
            click.echo(f"  {label:40} {report.acted[name]:,}")
    if not report.changed:
        click.echo("  nothing to do")
    if report.already:
        click.echo(f"  {'already done (redelivered)':40} {report.already:,}")
    for name, count in sorted(report.refused.items()):
        click.echo(f"  {'refused: ' + name:40} {count:,}")


@policies.command("what-if")
@click.option(
    "--rules",
    "rules_text",
    required=True,
    metavar="JSON",
    help="the rules to try, as a JSON object of the names NTD_RULES takes (docs/domain.md, the "
    "policy numbers); the rules not named keep the values in force",
)
@click.option(
    "--since",
    type=TIME,
    help="the moment the rules take effect: before it the history replays under the rules in "
    "force, and only what differs from it on is shown [default: the start of the history]",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@as_option
@pass_runtime
def what_if_command(
    rt: Runtime, rules_text: str, since: datetime | None, fmt: str, actor: Actor
) -> None:
    """Replay the stored history through the policies under other rules, beside what they
    did: the strikes, which sellers would have been suspended or spared, which notifiers would
    have entered or left the trusted lane (or been warned, or suspended) and when. Writes
    nothing; the cases replay as they happened (docs/what-if.md). Supervisors, admins and
    auditors.

    \b
    Examples:
      ntd policies what-if --rules '{"strikes_to_suspend": 2}'
      ntd policies what-if --rules '{"trusted_min_takedown_share": 0.95}' --since 2026-11-01
      ntd policies what-if --rules '{"misuse_warning_share": 0.2}' --format json | jq .notifiers
    """
    app = rt.app
    try:
        rules = proposed_rules(app.rules, rules_text)
    except BadRules as error:
        raise click.BadParameter(str(error), param_hint="'--rules'") from None
    with catch_up_bar("replaying the policies") as tick:
        result = what_if(app, rules, actor, since, tick)
    if fmt == "json":
        click.echo(json.dumps(what_if_data(result), indent=2))
    else:
        click.echo(what_if_text(result))
