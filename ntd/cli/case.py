"""`ntd case`: decide and follow cases (one listing of one notice each): the decisions with
their statements of reasons, the steps of notifiers and sellers, and a case's view and history."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import click
from pydantic import ValidationError

from domain.application import NtdApplication
from domain.case import Authenticity, Case, Evidence, IdentificationItem, ItemKind
from domain.values import Actor, ActorKind, DomainError, problem_text
from ntd.cli.kit import Runtime, pass_runtime
from ntd.cli.params import (
    ID,
    TIME,
    VERSION,
    as_option,
    choice,
    json_flag,
    reasons_options,
    statement,
)
from ntd.cli.render_case import case_json, case_view
from ntd.formats import relative, when


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
      ntd case request-identification CASE --question "Are these genuine?" \\
          --item photo:listing-photo-3.jpg:<sha256>
      ntd case identify CASE --verdict counterfeit --basis "Hologram missing" \\
          --as notifier_user:j.moreau
      ntd case message CASE --text "Test buy shipped today" --as notifier_user:j.moreau
      ntd case show CASE
      ntd case history CASE --version 1
    """


def _changed(case: Case, now: datetime) -> None:
    click.echo(f"case {case.id}: {case.state.value} (version {case.version})")
    for kind, due in sorted(case.deadlines.items(), key=lambda kv: kv[1]):
        click.echo(f"  {kind.value} deadline {when(due)} ({relative(due, now)})")


DESPITE_GENUINE = click.option(
    "--despite-genuine",
    is_flag=True,
    help="decide so although the notifier answered that the goods are genuine (say why in "
    "--facts; the decision cites the answer)",
)


def _decision(
    name: str, method: Callable[[NtdApplication], Callable[..., Case]], removal: bool, doc: str
) -> None:
    """Register a decision command: a case id, the statement-of-reasons options, --as; one
    that keeps or puts the listing down also takes --despite-genuine."""

    def command(rt: Runtime, case_id: UUID, actor: Actor, **options: Any) -> None:
        app = rt.app
        despite = options.pop("despite_genuine", None)
        given = statement(app.case(case_id, actor), removal, **options)
        extra = {} if despite is None else {"despite_genuine": despite}
        _changed(method(app)(case_id, given, actor, **extra), rt.now())

    if removal:
        command = DESPITE_GENUINE(command)
    case.command(name, help=doc)(
        click.argument("case_id", type=ID)(reasons_options(as_option(pass_runtime(command))))
    )


_decision(
    "take-down",
    lambda app: app.take_down,
    True,
    """Take the listing down; the seller
    is notified and its counter-notice window opens. After the notifier answered an
    identification request `genuine`, only with --despite-genuine.

    \b
    Examples:
      ntd case take-down CASE --facts "Test buy 88121: counterfeit hardware, no serial tag"
      ntd case take-down CASE --facts "..." --visibility content_removed --territory DE \\
          --territory FR --as agent:alice
      ntd case take-down CASE --despite-genuine \\
          --facts "Brand says genuine, but the serial is on its stolen-goods list"
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


SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _problems(error: ValidationError) -> str:
    return "; ".join(problem_text(e) for e in error.errors())


def _split(text: str, need_hash: bool) -> tuple[str, str, str | None]:
    """KIND:REFERENCE[:SHA256]; the reference may hold colons (a URL), the hash is the last
    part when it is 64 hex digits."""
    kind, sep, rest = text.partition(":")
    if not sep or not rest:
        raise click.BadParameter(
            f"{text!r}: expected KIND:REFERENCE{':SHA256' if need_hash else ''}"
        )
    reference, _, last = rest.rpartition(":")
    if reference and SHA256.match(last):
        return kind, reference, last
    if need_hash:
        raise click.BadParameter(f"{text!r}: expected KIND:REFERENCE:SHA256 (64 hex digits)")
    return kind, rest, None


def _items(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[Any]:
    items = []
    for text in values:
        kind, reference, sha256 = _split(text, need_hash=False)
        try:
            items.append(IdentificationItem(kind=kind, reference=reference, sha256=sha256))
        except ValidationError as error:
            raise click.BadParameter(f"{text!r}: {_problems(error)}") from None
    return items


def _evidence(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[Any]:
    found = []
    for text in values:
        kind, reference, sha256 = _split(text, need_hash=True)
        try:
            found.append(Evidence(kind=kind, reference=reference, sha256=sha256))
        except ValidationError as error:
            raise click.BadParameter(f"{text!r}: {_problems(error)}") from None
    return found


EVIDENCE = click.option(
    "--evidence",
    multiple=True,
    callback=_evidence,
    metavar="KIND:REFERENCE:SHA256",
    help="evidence by the hash of its file, repeatable (e.g. photo:IMG_2291.jpg:<sha256>)",
)


@case.command("request-identification")
@click.argument("case_id", type=ID)
@click.option("--question", required=True, help="what the notifier should judge (≤ 2000 chars)")
@click.option(
    "--item",
    "items",
    multiple=True,
    callback=_items,
    metavar="KIND:REFERENCE[:SHA256]",
    help=f"what to judge, repeatable; KIND one of {', '.join(k.value for k in ItemKind)}; "
    "test_buy, photo and document need the sha256 of their file",
)
@as_option
@pass_runtime
def case_request_identification(
    rt: Runtime, case_id: UUID, question: str, items: list[IdentificationItem], actor: Actor
) -> None:
    """Ask the notifier whether the listing's goods are genuine; it has the identification
    window (business days) to answer, or the request lapses. One request open at a time.

    \b
    Examples:
      ntd case request-identification CASE --question "Genuine? See the test buy." \\
          --item listing:https://shop.example/item/L-1 \\
          --item test_buy:order-88121:<sha256 of the photos' archive>
      ntd case request-identification CASE --question "Is this colourway one you made?" \\
          --as agent:alice
    """
    _changed(rt.app.request_identification(case_id, question, items, actor), rt.now())


@case.command("identify")
@click.argument("case_id", type=ID)
@click.option("--verdict", type=choice(Authenticity), required=True, help="your judgement")
@click.option("--basis", required=True, help="what the verdict rests on (≤ 5000 chars)")
@EVIDENCE
@as_option
@pass_runtime
def case_identify(
    rt: Runtime,
    case_id: UUID,
    verdict: str,
    basis: str,
    evidence: list[Evidence],
    actor: Actor,
) -> None:
    """Answer an identification request: counterfeit, genuine or cannot_tell, with the basis
    (as the notifier's user). The decision that follows cites the answer; a `genuine` answer
    weighs against takedown.

    \b
    Examples:
      ntd case identify CASE --verdict counterfeit --basis "No hologram; wrong stitch count" \\
          --evidence photo:compare-1.jpg:<sha256> --as notifier_user:j.moreau
      ntd case identify CASE --verdict genuine --basis "Serial 4471 is ours, sold 2025 in Lyon"
    """
    answered = rt.app.answer_identification(case_id, Authenticity(verdict), basis, evidence, actor)
    _changed(answered, rt.now())
    click.echo(f"  answered {verdict}")


@case.command("message")
@click.argument("case_id", type=ID)
@click.option("--text", required=True, help="the message (≤ 4000 chars; newlines and tabs ok)")
@EVIDENCE
@as_option
@pass_runtime
def case_message(
    rt: Runtime, case_id: UUID, text: str, evidence: list[Evidence], actor: Actor
) -> None:
    """Post a message on the case's conversation between the notifier's users and the
    platform's staff (sellers never see it).

    \b
    Examples:
      ntd case message CASE --text "Test buy arrives Thursday" --as notifier_user:j.moreau
      ntd case message CASE --text "Photos attached" --evidence photo:box.jpg:<sha256> \\
          --as agent:alice
    """
    posted = rt.app.post_message(case_id, text, evidence, actor)
    click.echo(f"case {posted.id}: message posted (version {posted.version})")


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
    """Show a case: state, listing, notifier, open deadlines, identification, reasons, the
    conversation (not for sellers) and its timeline.

    \b
    Examples:
      ntd case show CASE
      ntd case show CASE --json | jq .timeline
    """
    events = rt.app.case_events(case_id, actor)
    case = rt.app.case(case_id, actor, events[-1].originator_version)
    _print_case(rt, case, events, as_json, None, actor)
    try:  # whoever may read the conversation has now read it (a read model, not an event)
        rt.app.may_read("read_conversations", actor, notifier_id=case.notifier_id)
    except DomainError:
        return
    rt.ntd().read_store.mark_read(str(actor.principal), case_id, case.version)


@case.command("history")
@click.argument("case_id", type=ID)
@click.option("--as-of", type=TIME, help="the case as it stood at this time (ISO, UTC default)")
@click.option("--version", type=VERSION, help="the case as it stood at this version")
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


def _reads_conversation(app: NtdApplication, case: Case, viewer: Actor) -> bool:
    """Whether the permission table lets the viewer read the case's conversation."""
    try:
        app.may_read("read_conversations", viewer, notifier_id=case.notifier_id)
    except DomainError:
        return False
    return True


def _print_case(
    rt: Runtime, case: Case, events: Any, as_json: bool, as_of: str | None, viewer: Actor
) -> None:
    conversation = _reads_conversation(rt.app, case, viewer)
    if as_json:
        data = case_json(case, events, conversation)
        if as_of:
            data["as_of"] = as_of
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    try:
        name = rt.app.notifier(case.notifier_id, viewer).name
    except DomainError:  # a seller sees who complained by id only
        name = f"notifier {case.notifier_id}"
    staff = viewer.kind is ActorKind.AGENT  # only the flag for deciders; access is the app's
    click.echo(case_view(case, events, name, rt.now(), as_of, conversation, staff))
