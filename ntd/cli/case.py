"""`ntd case`: decide and follow cases (one listing of one notice each): the decisions with
their statements of reasons, the steps of notifiers and sellers, and a case's view and history."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import click

from domain.application import NtdApplication
from domain.case import Case
from domain.values import Actor, DomainError
from ntd.cli.kit import Runtime, pass_runtime
from ntd.cli.params import ID, TIME, as_option, json_flag, reasons_options, statement
from ntd.cli.render import relative, when
from ntd.cli.render_case import case_json, case_view


@click.group()
def case() -> None:
    """Decide and follow cases (one listing of one notice each).

    Decisions take a statement of reasons (--facts is required; the legal ground defaults to
    the case's right type). Every command takes --as KIND:ID.

    \b
    Examples:
      ntd case take-down CASE --facts "Test buy 88121: counterfeit hardware" --as agent:alice
      ntd case counter-notice CASE --statement "Genuine stock, invoice 2291 attached" --consent
      ntd case forward CASE
      ntd case show CASE
      ntd case history CASE --version 1
    """


def _changed(case: Case, now: datetime) -> None:
    click.echo(f"case {case.id}: {case.state.value} (version {case.version})")
    for kind, due in sorted(case.deadlines.items(), key=lambda kv: kv[1]):
        click.echo(f"  {kind.value} deadline {when(due)} ({relative(due, now)})")


def _decision(
    name: str, method: Callable[[NtdApplication], Callable[..., Case]], removal: bool, doc: str
) -> None:
    """Register a decision command: a case id, the statement-of-reasons options, --as."""

    @case.command(name, help=doc)
    @click.argument("case_id", type=ID)
    @reasons_options
    @as_option
    @pass_runtime
    def command(rt: Runtime, case_id: UUID, actor: Actor, **options: Any) -> None:
        app = rt.app
        given = statement(app.case(case_id, actor), removal, **options)
        _changed(method(app)(case_id, given, actor), rt.now())


_decision(
    "take-down",
    lambda app: app.take_down,
    True,
    """Take the listing down; the seller
    is notified and its counter-notice window opens.

    \b
    Examples:
      ntd case take-down CASE --facts "Test buy 88121: counterfeit hardware, no serial tag"
      ntd case take-down CASE --facts "..." --visibility content_removed --territory DE \\
          --territory FR --as agent:alice
    """,
)
_decision(
    "decline",
    lambda app: app.decline,
    False,
    """Decline the notice for this listing,
    with reasons the notifier will see.

    \b
    Example:
      ntd case decline CASE --facts "Genuine goods resold after first sale in the EEA" \\
          --as agent:alice
    """,
)
_decision(
    "confirm",
    lambda app: app.confirm_takedown,
    True,
    """Post-hoc review of a
    trusted-lane takedown: it stands (never fully automated).

    \b
    Example:
      ntd case confirm CASE --facts "Review: listing photos match the counterfeit pattern"
    """,
)
_decision(
    "reverse",
    lambda app: app.reverse_takedown,
    False,
    """Post-hoc review of a
    trusted-lane takedown: undo it and reinstate the listing.

    \b
    Example:
      ntd case reverse CASE --facts "Seller is an authorised reseller (distribution list 2026)"
    """,
)
_decision(
    "uphold-appeal",
    lambda app: app.uphold_appeal,
    False,
    """The seller's
    counter-notice succeeds: reinstate the listing (a reviewer decides, never automated).

    \b
    Example:
      ntd case uphold-appeal CASE --facts "Invoice from the brand's distributor verified"
    """,
)
_decision(
    "reject-appeal",
    lambda app: app.reject_appeal,
    True,
    """The seller's
    counter-notice fails: the takedown stands.

    \b
    Example:
      ntd case reject-appeal CASE --facts "Invoice is forged: the distributor denies it"
    """,
)


@case.command("request-clarification")
@click.argument("case_id", type=ID)
@click.option("--question", required=True, help="what the notice lacks")
@as_option
@pass_runtime
def case_request_clarification(rt: Runtime, case_id: UUID, question: str, actor: Actor) -> None:
    """Ask the notifier for what is missing; the case lapses if unanswered in time.

    \b
    Example:
      ntd case request-clarification CASE --question "Which registration covers handbags?"
    """
    _changed(rt.app.request_clarification(case_id, question, actor), rt.now())


@case.command("provide-clarification")
@click.argument("case_id", type=ID)
@click.option("--answer", required=True)
@as_option
@pass_runtime
def case_provide_clarification(rt: Runtime, case_id: UUID, answer: str, actor: Actor) -> None:
    """Answer a clarification request: the case returns to review.

    \b
    Example:
      ntd case provide-clarification CASE --answer "EUTM 018234567, class 18" \\
          --as notifier_user:j.moreau
    """
    _changed(rt.app.provide_clarification(case_id, answer, actor), rt.now())


@case.command("counter-notice")
@click.argument("case_id", type=ID)
@click.option("--statement", "text", required=True, help="why the takedown is wrong")
@click.option(
    "--consent/--no-consent",
    default=False,
    show_default=True,
    help="consent to the jurisdiction of the court (DMCA 512(g)(3)(D))",
)
@as_option
@pass_runtime
def case_counter_notice(rt: Runtime, case_id: UUID, text: str, consent: bool, actor: Actor) -> None:
    """The seller appeals the takedown within its window (as a user of the listing's seller).

    \b
    Example:
      ntd case counter-notice CASE --statement "Genuine stock, invoice 2291 attached" --consent \\
          --as seller:s5-ops
    """
    _changed(rt.app.counter_notice(case_id, text, consent, actor), rt.now())


@case.command("forward")
@click.argument("case_id", type=ID)
@as_option
@pass_runtime
def case_forward(rt: Runtime, case_id: UUID, actor: Actor) -> None:
    """Forward the counter-notice to the notifier: the listing is restored after the
    restoration period unless the notifier reports litigation.

    \b
    Example:
      ntd case forward CASE --as agent:alice
    """
    _changed(rt.app.forward_to_notifier(case_id, actor), rt.now())


@case.command("report-litigation")
@click.argument("case_id", type=ID)
@click.option("--court", required=True)
@click.option("--reference", required=True, help="the court's case reference")
@as_option
@pass_runtime
def case_report_litigation(
    rt: Runtime, case_id: UUID, court: str, reference: str, actor: Actor
) -> None:
    """The notifier went to court: the listing stays down.

    \b
    Example:
      ntd case report-litigation CASE --court "Landgericht München I" --reference "33 O 1234/26"
    """
    _changed(rt.app.report_litigation(case_id, court, reference, actor), rt.now())


@case.command("withdraw")
@click.argument("case_id", type=ID)
@click.option("--reason", required=True)
@as_option
@pass_runtime
def case_withdraw(rt: Runtime, case_id: UUID, reason: str, actor: Actor) -> None:
    """The notifier retracts its notice for this listing.

    \b
    Example:
      ntd case withdraw CASE --reason "Settled with the seller" --as notifier_user:j.moreau
    """
    _changed(rt.app.withdraw(case_id, reason, actor), rt.now())


@case.command("close")
@click.argument("case_id", type=ID)
@click.option("--reason", required=True)
@as_option
@pass_runtime
def case_close(rt: Runtime, case_id: UUID, reason: str, actor: Actor) -> None:
    """Close a case for good.

    \b
    Example:
      ntd case close CASE --reason "Appeal decided; takedown final"
    """
    _changed(rt.app.close_case(case_id, reason, actor), rt.now())


@case.command("show")
@click.argument("case_id", type=ID)
@json_flag
@as_option
@pass_runtime
def case_show(rt: Runtime, case_id: UUID, as_json: bool, actor: Actor) -> None:
    """Show a case: state, listing, notifier, open deadlines, reasons and its timeline.

    \b
    Examples:
      ntd case show CASE
      ntd case show CASE --json | jq .timeline
    """
    events = rt.app.case_events(case_id, actor)
    case = rt.app.case(case_id, actor, events[-1].originator_version)
    _print_case(rt, case, events, as_json, None, actor)


@case.command("history")
@click.argument("case_id", type=ID)
@click.option("--as-of", type=TIME, help="the case as it stood at this time (ISO, UTC default)")
@click.option("--version", type=click.IntRange(1), help="the case as it stood at this version")
@json_flag
@as_option
@pass_runtime
def case_history(
    rt: Runtime,
    case_id: UUID,
    as_of: datetime | None,
    version: int | None,
    as_json: bool,
    actor: Actor,
) -> None:
    """Show a case as it was at a moment or a version, timeline stopping there.

    \b
    Examples:
      ntd case history CASE --version 1          the case as filed, before any decision
      ntd case history CASE --as-of 2026-11-02T09:00Z
    """
    if (as_of is None) == (version is None):
        raise click.UsageError("give exactly one of --as-of TIME or --version N")
    app = rt.app
    if as_of is not None:
        past = app.case_as_of(case_id, as_of, actor)
        label = f"at {when(as_of)} (version {past.version})"
    else:
        past = app.case(case_id, actor, version)
        label = f"at version {past.version}"
    events = [e for e in app.case_events(case_id, actor) if e.originator_version <= past.version]
    _print_case(rt, past, events, as_json, label, actor)


def _print_case(
    rt: Runtime, case: Case, events: Any, as_json: bool, as_of: str | None, viewer: Actor
) -> None:
    if as_json:
        data = case_json(case, events)
        if as_of:
            data["as_of"] = as_of
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    try:
        name = rt.app.notifier(case.notifier_id, viewer).name
    except DomainError:  # a seller sees who complained by id only
        name = f"notifier {case.notifier_id}"
    click.echo(case_view(case, events, name, rt.now(), as_of))
