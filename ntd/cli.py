"""The `ntd` command line: every lifecycle step, case history, deadlines, dashboards and audit.

The machinery (errors, parameter types, runtime, shared options) is in ntd/clikit.py and the
text rendering in ntd/render.py; this module holds one small function per command.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

import click
import structlog

from domain.application import NtdApplication
from domain.case import Case, Deadline, ReasonCode
from domain.notice import parse_notice
from domain.notifier import NotifierKind
from domain.values import Actor, ActorKind, RightType
from ntd import policy_cli, render, streams
from ntd.bootstrap import FixedClock, Ntd
from ntd.clikit import (
    ACTOR,
    ID,
    TIME,
    NtdGroup,
    Refused,
    Runtime,
    as_option,
    choice,
    json_flag,
    pass_runtime,
    quiet_flag,
    reasons_options,
    statement,
)
from ntd.config import VARIABLES
from ntd.deadlines import fire_due_deadlines
from projections.models import DueDeadline

log = structlog.get_logger("ntd.cli")

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# -- root ------------------------------------------------------------------------------------


@click.group(cls=NtdGroup, context_settings=CONTEXT)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="where the embedded SQLite stores live (overrides NTD_DATA_DIR)",
)
@click.version_option(package_name="ntd", prog_name="ntd")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None) -> None:
    """Notice and takedown for online marketplaces: notifiers file notices about listings,
    agents decide each listing's case with a statement of reasons, sellers counter-notice.

    Every command has --help with examples. With no configuration ntd runs embedded on
    SQLite in ~/.local/share/ntd (see `ntd config`).

    \b
    Examples:
      ntd demo                           build a realistic marketplace to explore
      ntd notice template > notice.json  a valid notice to edit, then:
      ntd notice file --json notice.json
      ntd case show CASE_ID
      ntd dashboard --brand Aurelia
    """
    if data_dir is not None:
        os.environ["NTD_DATA_DIR"] = str(data_dir)
    ctx.call_on_close(ctx.ensure_object(Runtime).close)


@cli.command("config")
@pass_runtime
def config_command(rt: Runtime) -> None:
    """Print the effective settings and every environment variable ntd reads.

    \b
    Examples:
      ntd config
      NTD_RULES='{"counter_notice_days": 14}' ntd config
    """
    s = rt.settings
    lines: list[tuple[str, str]] = []
    for f in dataclasses.fields(s):
        value = getattr(s, f.name)
        if f.name == "rules":
            continue
        if f.name == "calendar":
            text = ", ".join(d.isoformat() for d in sorted(value.holidays)) or "none"
            lines.append(("holidays", text))
            continue
        if f.name == "now":
            text = f"pinned at {render.when(value)}" if value else "host clock"
        elif f.name.endswith("dsn"):
            text = _masked(value)
        else:
            text = render.cell(value) if value not in ("", None) else "(none)"
        lines.append((f.name.replace("_", " "), text))
    click.echo("settings")
    click.echo(render.pairs(lines, indent=2))
    click.echo("\nrules")
    click.echo(render.pairs([(k, str(v)) for k, v in s.rules.model_dump().items()], indent=2))
    click.echo("\nvariables")
    click.echo(
        render.table(
            ("VARIABLE", "SET TO", "MEANING"),
            [
                (name, _masked(os.environ[name]) if name in os.environ else "", meaning)
                for name, meaning in VARIABLES.items()
            ],
            indent=2,
        )
    )


def _masked(dsn: str) -> str:
    head, at, tail = dsn.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return dsn
    scheme_user = head.rsplit(":", 1)[0]
    return f"{scheme_user}:***@{tail}"


# -- notifiers -------------------------------------------------------------------------------


@cli.group()
def notifier() -> None:
    """Register notifiers (brands, agents, trade associations), their IP rights and standing.

    \b
    Examples:
      ntd notifier register --name "Aurelia Leather" --kind brand --email legal@aurelia.example
      ntd notifier add-right NOTIFIER --type trademark --number 018234567 \\
          --jurisdiction EU --certificate certificate.pdf
      ntd notifier verify-right NOTIFIER RIGHT --as agent:alice
      ntd notifier show NOTIFIER
    """


@notifier.command("register")
@click.option("--name", required=True, help="the notifier's name")
@click.option("--kind", type=choice(NotifierKind), default="brand", show_default=True)
@click.option("--email", required=True, help="contact address for decisions and questions")
@click.option("--id", "notifier_id", type=ID, help="choose the id (default: a new one)")
@as_option("agent:cli")
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
    click.echo(f"notifier {new_id} registered: {name} ({kind})")
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
@as_option("notifier_user:cli")
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
    digest = sha256 or hashlib.sha256(certificate.read_bytes()).hexdigest()  # type: ignore[union-attr]
    right_id = rt.app.register_right(
        notifier_id, RightType(right_type), number, jurisdiction, digest, actor
    )
    if quiet:
        click.echo(str(right_id))
        return
    click.echo(f"right {right_id} registered for notifier {notifier_id}: pending verification")
    click.echo(f"next: ntd notifier verify-right {notifier_id} {right_id} --as agent:NAME")


@notifier.command("verify-right")
@click.argument("notifier_id", type=ID)
@click.argument("right_id", type=ID)
@as_option("agent:cli")
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
@as_option("agent:cli")
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
@click.option(
    "--takedown-share",
    type=click.FloatRange(0, 1),
    help="share of decided notices ending in takedown [default: from the read model]",
)
@click.option(
    "--reversal-share",
    type=click.FloatRange(0, 1),
    help="share of takedowns reversed [default: from the read model]",
)
@click.option("--notices", type=click.IntRange(0), help="notices considered [default: read model]")
@as_option("agent:cli")
@pass_runtime
def notifier_admit(
    rt: Runtime,
    notifier_id: UUID,
    takedown_share: float | None,
    reversal_share: float | None,
    notices: int | None,
    actor: Actor,
) -> None:
    """Admit a notifier to the Good Faith Takedown (trusted) lane on its figures.

    Figures not given are the trailing-window figures of the brand dashboard; a notifier whose
    figures do not meet the rules (see `ntd config`) is refused.

    \b
    Examples:
      ntd notifier admit NOTIFIER --as agent:trust-desk
      ntd notifier admit NOTIFIER --takedown-share 0.95 --reversal-share 0.01 --notices 40
    """
    if None in (takedown_share, reversal_share, notices):
        figures = rt.caught_up().read_store.dashboard(notifier_id, rt.now(), rt.app.rules).trusted
        takedown_share = _or(takedown_share, figures.takedown_share)
        reversal_share = _or(reversal_share, figures.reversal_share)
        notices = notices if notices is not None else figures.notices
    assert takedown_share is not None and reversal_share is not None and notices is not None
    rt.app.admit_to_trusted_lane(notifier_id, takedown_share, reversal_share, notices, actor)
    click.echo(
        f"notifier {notifier_id} admitted to the trusted lane (takedown share "
        f"{render.pct(takedown_share)}, reversal share {render.pct(reversal_share)}, "
        f"{notices} notices)"
    )


def _or(given: float | None, figure: float | None) -> float:
    return given if given is not None else (figure or 0.0)


@notifier.command("remove")
@click.argument("notifier_id", type=ID)
@click.option("--reason", required=True)
@as_option("agent:cli")
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
    "--unfounded-share",
    type=click.FloatRange(0, 1),
    help="share of manifestly unfounded notices [default: decline rate from the read model]",
)
@as_option("agent:cli")
@pass_runtime
def notifier_warn(
    rt: Runtime, notifier_id: UUID, reason: str, unfounded_share: float | None, actor: Actor
) -> None:
    """Warn a notifier for manifestly unfounded notices (DSA Art. 23).

    \b
    Example:
      ntd notifier warn NOTIFIER --reason "41 % of notices declined as unfounded in 8 weeks"
    """
    if unfounded_share is None:
        board = rt.caught_up().read_store.dashboard(notifier_id, rt.now(), rt.app.rules)
        unfounded_share = board.decline_rate or 0.0
    rt.app.warn_notifier(notifier_id, reason, unfounded_share, actor)
    click.echo(f"notifier {notifier_id} warned (unfounded share {render.pct(unfounded_share)})")


@notifier.command("suspend")
@click.argument("notifier_id", type=ID)
@click.option("--reason", required=True)
@click.option("--days", type=click.IntRange(1), help="length [default: the policy's]")
@as_option("agent:cli")
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
    until = rt.app.notifier(notifier_id).suspended_until
    click.echo(f"notifier {notifier_id} suspended until {render.when(until)}")


@notifier.command("list")
@pass_runtime
def notifier_list(rt: Runtime) -> None:
    """List notifiers with their lane and case count (from the read model).

    \b
    Example:
      ntd notifier list
    """
    rows = sorted(rt.caught_up().read_store.notifiers(), key=lambda n: (-n.cases, n.name))
    if not rows:
        click.echo("no notifiers yet (ntd notifier register --help, or ntd demo)")
        return
    click.echo(
        render.table(
            ("NOTIFIER", "NAME", "TRUSTED LANE", "CASES"),
            [(str(n.notifier_id), n.name, n.in_trusted_lane, n.cases) for n in rows],
        )
    )


@notifier.command("show")
@click.argument("notifier_id", type=ID)
@json_flag
@pass_runtime
def notifier_show(rt: Runtime, notifier_id: UUID, as_json: bool) -> None:
    """Show a notifier: its rights and their status, and its standing.

    \b
    Example:
      ntd notifier show NOTIFIER
    """
    n = rt.app.notifier(notifier_id)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "notifier_id": str(n.id),
                    "name": n.name,
                    "kind": n.kind.value,
                    "contact_email": n.contact_email,
                    "version": n.version,
                    "rights": [render.plain(r) for r in n.rights.values()],
                    "in_trusted_lane": n.in_trusted_lane,
                    "may_reapply_on": render.plain(n.may_reapply_on),
                    "warnings": n.warnings,
                    "suspended_until": render.plain(n.suspended_until),
                },
                indent=2,
            )
        )
        return
    click.echo(render.notifier_view(n, rt.now()))


# -- notices ---------------------------------------------------------------------------------


@cli.group()
def notice() -> None:
    """File notices: one case is opened per listing (1 to 300 listings per notice).

    \b
    Examples:
      ntd notice template --notifier NOTIFIER --right RIGHT > notice.json
      ntd notice file --json notice.json
      cat notice.json | ntd notice file --json -
    """


@notice.command("file")
@click.option(
    "--json",
    "source",
    type=click.File("r"),
    metavar="FILE|-",
    help="the notice as JSON (see `ntd notice template`); flags override its fields",
)
@click.option("--notifier", "notifier_id", type=ID)
@click.option("--right", "right_id", type=ID, help="the verified right relied on")
@click.option("--by", "submitted_by", help="the notifier's user filing it")
@click.option(
    "--listing",
    "listings",
    multiple=True,
    metavar="MARKETPLACE:LISTING_ID:URL:SELLER",
    help="a listing, repeatable",
)
@click.option("--reason", type=choice(ReasonCode))
@click.option("--explanation", help="the substantiated explanation (≥ 20 characters)")
@click.option("--evidence", multiple=True, metavar="KIND:REF:SHA256", help="repeatable")
@click.option("--contact-name")
@click.option("--contact-email")
@click.option("--signature")
@click.option(
    "--good-faith/--no-good-faith",
    default=None,
    help="good-faith statement: the use is not authorised by the right holder",
)
@click.option(
    "--accurate/--no-accurate", default=None, help="accuracy statement, under penalty of perjury"
)
@click.option("--automated-detection/--no-automated-detection", default=None)
@click.option("--notice-id", type=ID, help="client-chosen id: filing it again changes nothing")
@as_option(None, "the notice's submitted_by, as notifier_user")
@click.option("-q", "--quiet", is_flag=True, help="print only the case ids, one per line")
@pass_runtime
def notice_file(
    rt: Runtime, source: TextIO | None, actor: Actor | None, quiet: bool, **flags: Any
) -> None:
    """File a notice from JSON and/or flags; prints the receipt (one case per listing).

    \b
    Examples:
      ntd notice file --json notice.json
      ntd notice file --json notice.json --notifier NOTIFIER --right RIGHT
      ntd notice file --notifier NOTIFIER --right RIGHT --by j.moreau \\
          --listing "marketly:B0912:https://marketly.example/item/B0912:luxe-deals" \\
          --reason counterfeit \\
          --explanation "Test buy 88121: counterfeit stitching, fake serial tag" \\
          --evidence "test_buy:order 88121:$(sha256sum photos.zip | cut -c1-64)" \\
          --contact-name "Jeanne Moreau" --contact-email legal@aurelia.example \\
          --signature "/s/ Jeanne Moreau" --good-faith --accurate
    """
    receipt = rt.app.file_notice(parse_notice(_notice_data(source, flags, actor)))
    if quiet:
        for filed in receipt.cases:
            click.echo(str(filed.case_id))
        return
    click.echo(render.receipt(receipt))


def _notice_data(
    source: TextIO | None, flags: dict[str, Any], actor: Actor | None
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if source is not None:
        try:
            data = json.load(source)
        except json.JSONDecodeError as error:
            raise click.BadParameter(
                f"not JSON: {error.msg} at line {error.lineno} column {error.colno}",
                param_hint="'--json'",
            ) from None
        if not isinstance(data, dict):
            raise click.BadParameter("the notice must be a JSON object", param_hint="'--json'")
    simple = {
        "notifier_id": "notifier_id",
        "right_id": "right_id",
        "submitted_by": "submitted_by",
        "reason": "reason_code",
        "explanation": "explanation",
        "signature": "signature",
        "good_faith": "good_faith_statement",
        "accurate": "accuracy_statement",
        "automated_detection": "automated_detection",
        "notice_id": "notice_id",
    }
    for flag, key in simple.items():
        if flags.get(flag) is not None:
            data[key] = str(flags[flag]) if isinstance(flags[flag], UUID) else flags[flag]
    if actor is not None:
        if actor.kind is not ActorKind.NOTIFIER_USER:
            raise click.BadParameter("a notice is filed by a notifier_user", param_hint="'--as'")
        data["submitted_by"] = actor.id
    if flags.get("listings"):
        data["listings"] = [_listing(text) for text in flags["listings"]]
    if flags.get("evidence"):
        data["evidence"] = [_evidence(text) for text in flags["evidence"]]
    if flags.get("contact_name") or flags.get("contact_email"):
        contact = dict(data.get("contact") or {})
        if flags.get("contact_name"):
            contact["name"] = flags["contact_name"]
        if flags.get("contact_email"):
            contact["email"] = flags["contact_email"]
        data["contact"] = contact
    return data


def _listing(text: str) -> dict[str, str]:
    parts = text.split(":")
    if len(parts) < 4 or not all((parts[0], parts[1], parts[-1])):
        raise click.BadParameter(
            f"{text!r}: expected MARKETPLACE:LISTING_ID:URL:SELLER", param_hint="'--listing'"
        )
    return {
        "marketplace": parts[0],
        "listing_id": parts[1],
        "url": ":".join(parts[2:-1]),
        "seller_id": parts[-1],
    }


def _evidence(text: str) -> dict[str, str]:
    kind, _, rest = text.partition(":")
    reference, _, sha256 = rest.rpartition(":")
    if not (kind and reference and sha256):
        raise click.BadParameter(f"{text!r}: expected KIND:REF:SHA256", param_hint="'--evidence'")
    return {"kind": kind, "reference": reference, "sha256": sha256}


TEMPLATE_ID = UUID(int=0)


@notice.command("template")
@click.option("--notifier", "notifier_id", type=ID, help="fill in the notifier's id")
@click.option("--right", "right_id", type=ID, help="fill in the right's id")
def notice_template(notifier_id: UUID | None, right_id: UUID | None) -> None:
    """Print a valid example notice as JSON, to edit and file with `ntd notice file --json`.

    \b
    Example:
      ntd notice template --notifier NOTIFIER --right RIGHT > notice.json
    """
    evidence_hash = hashlib.sha256(b"test-buy-88121-photos.zip").hexdigest()
    example = {
        "notifier_id": str(notifier_id or TEMPLATE_ID),
        "right_id": str(right_id or TEMPLATE_ID),
        "submitted_by": "j.moreau",
        "listings": [
            {
                "marketplace": "marketly",
                "listing_id": "B0912-7731",
                "url": "https://marketly.example/item/B0912-7731",
                "seller_id": "luxe-deals-88",
            }
        ],
        "reason_code": "counterfeit",
        "explanation": "Test buy 88121 received 2026-11-03: the bag carries our registered mark "
        "but has non-genuine hardware and no serial tag; we never supplied this "
        "seller.",
        "evidence": [
            {
                "kind": "test_buy",
                "reference": "order marketly-88121 with photos",
                "sha256": evidence_hash,
            }
        ],
        "contact": {"name": "Jeanne Moreau", "email": "legal@aurelia.example"},
        "good_faith_statement": True,
        "accuracy_statement": True,
        "signature": "/s/ Jeanne Moreau",
        "automated_detection": False,
    }
    parse_notice(example)
    click.echo(json.dumps(example, indent=2, ensure_ascii=False))


# -- cases -----------------------------------------------------------------------------------


@cli.group()
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
        click.echo(f"  {kind.value} deadline {render.when(due)} ({render.relative(due, now)})")


def _decision(
    name: str, method: Callable[[NtdApplication], Callable[..., Case]], removal: bool, doc: str
) -> None:
    """Register a decision command: a case id, the statement-of-reasons options, --as."""

    @case.command(name, help=doc)
    @click.argument("case_id", type=ID)
    @reasons_options
    @as_option("agent:cli")
    @pass_runtime
    def command(rt: Runtime, case_id: UUID, actor: Actor, **options: Any) -> None:
        app = rt.app
        given = statement(app.case(case_id), removal, **options)
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
@as_option("agent:cli")
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
@as_option("notifier_user:cli")
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
@as_option(None, "seller:<the listing's seller>")
@pass_runtime
def case_counter_notice(
    rt: Runtime, case_id: UUID, text: str, consent: bool, actor: Actor | None
) -> None:
    """The seller appeals the takedown within its window.

    \b
    Example:
      ntd case counter-notice CASE --statement "Genuine stock, invoice 2291 attached" --consent
    """
    app = rt.app
    if actor is None:
        actor = Actor(kind=ActorKind.SELLER, id=app.case(case_id).listing.seller_id)
    _changed(app.counter_notice(case_id, text, consent, actor), rt.now())


@case.command("forward")
@click.argument("case_id", type=ID)
@as_option("agent:cli")
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
@as_option("notifier_user:cli")
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
@as_option("notifier_user:cli")
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
@as_option("agent:cli")
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
@pass_runtime
def case_show(rt: Runtime, case_id: UUID, as_json: bool) -> None:
    """Show a case: state, listing, notifier, open deadlines, reasons and its timeline.

    \b
    Examples:
      ntd case show CASE
      ntd case show CASE --json | jq .timeline
    """
    events = rt.app.case_events(case_id)
    _print_case(rt, rt.app.case(case_id, events[-1].originator_version), events, as_json, None)


@case.command("history")
@click.argument("case_id", type=ID)
@click.option("--as-of", type=TIME, help="the case as it stood at this time (ISO, UTC default)")
@click.option("--version", type=click.IntRange(1), help="the case as it stood at this version")
@json_flag
@pass_runtime
def case_history(
    rt: Runtime, case_id: UUID, as_of: datetime | None, version: int | None, as_json: bool
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
        past = app.case_as_of(case_id, as_of)
        label = f"at {render.when(as_of)} (version {past.version})"
    else:
        past = app.case(case_id, version)
        label = f"at version {past.version}"
    events = [e for e in app.case_events(case_id) if e.originator_version <= past.version]
    _print_case(rt, past, events, as_json, label)


def _print_case(rt: Runtime, case: Case, events: Any, as_json: bool, as_of: str | None) -> None:
    if as_json:
        data = render.case_json(case, events)
        if as_of:
            data["as_of"] = as_of
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    name = rt.app.notifier(case.notifier_id).name
    click.echo(render.case_view(case, events, name, rt.now(), as_of))


# -- deadlines -------------------------------------------------------------------------------


@cli.group()
def deadlines() -> None:
    """List and fire case deadlines (clarification, review, counter-notice, restoration).

    A passed deadline is itself an event with the effect the lifecycle gives it: a lapsed
    clarification, a closed appeal window, a restored listing.

    \b
    Examples:
      ntd deadlines list
      ntd deadlines run --dry-run
      ntd deadlines run                        (e.g. from cron every 15 minutes)
      ntd deadlines run --now 2026-12-20T09:00Z
    """


@deadlines.command("list")
@click.option("--until", type=TIME, help="deadlines due by this time [default: now]")
@pass_runtime
def deadlines_list(rt: Runtime, until: datetime | None) -> None:
    """List open deadlines that are due (or due by --until).

    \b
    Examples:
      ntd deadlines list
      ntd deadlines list --until 2026-12-31
    """
    ntd = rt.caught_up()
    now = rt.now()
    due = ntd.read_store.due_deadlines(until or now)
    if not due:
        click.echo(f"no deadlines due by {render.when(until or now)}")
        return
    click.echo(
        render.table(
            ("CASE", "DEADLINE", "DUE", ""),
            [
                (
                    str(d.case_id),
                    render.cell(d.deadline),
                    render.when(d.due_at),
                    render.relative(d.due_at, now),
                )
                for d in due
            ],
        )
    )
    click.echo(
        f"{len(due)} deadline{'s' if len(due) != 1 else ''} due by {render.when(until or now)}"
    )


@deadlines.command("run")
@click.option("--now", "at", type=TIME, help="run as if it were this time [default: now]")
@click.option("--dry-run", is_flag=True, help="show what would fire; change nothing")
@as_option("system:ntd")
@pass_runtime
def deadlines_run(rt: Runtime, at: datetime | None, dry_run: bool, actor: Actor) -> None:
    """Fire every due deadline: record it missed and apply its effect.

    \b
    Examples:
      ntd deadlines run
      ntd deadlines run --dry-run
      ntd deadlines run --now 2026-12-20T09:00Z
    """
    ntd = rt.ntd(FixedClock(at) if at else None)
    rt.caught_up()  # with a progress bar when far behind
    run = fire_due_deadlines(ntd, actor, dry_run)
    for d in run.due if dry_run else []:
        click.echo(f"would fire  {_deadline_head(d)}")
    for f in run.fired:
        if f.case is None:
            click.echo(f"skipped     {_deadline_head(f.due)}: {f.skipped}")
        else:
            log.debug("deadline fired", case_id=str(f.due.case_id), deadline=f.due.deadline.value)
            click.echo(f"fired       {_deadline_head(f.due)}  → {f.case.state.value}")
    when = render.when(run.now)
    if dry_run:
        click.echo(f"{len(run.due)} due at {when} (dry run: nothing fired)")
    else:
        click.echo(
            f"{run.fired_count} fired, {run.skipped_count} skipped, of {len(run.due)} due at {when}"
        )


def _deadline_head(d: DueDeadline) -> str:
    kind = Deadline(render.plain(d.deadline))
    return f"{kind.value:<15} case {d.case_id}  due {render.when(d.due_at)}"


# -- dashboard and audit ---------------------------------------------------------------------


def resolve_brand(ntd: Ntd, text: str) -> UUID:
    """A notifier id, or the notifier whose name starts with the text (case-insensitive)."""
    try:
        return UUID(text)
    except ValueError:
        pass
    wanted = text.strip().lower()
    known = ntd.read_store.notifiers()
    matches = [n for n in known if n.name.lower() == wanted] or [
        n for n in known if n.name.lower().startswith(wanted)
    ]
    if not matches:
        raise click.BadParameter(
            f"no notifier is named {text!r} (see `ntd notifier list`)", param_hint="'--brand'"
        )
    if len(matches) > 1:
        names = ", ".join(sorted(n.name for n in matches))
        raise click.BadParameter(
            f"{text!r} matches {len(matches)} notifiers ({names}); give more of the name or the id",
            param_hint="'--brand'",
        )
    return matches[0].notifier_id  # type: ignore[no-any-return]


@cli.command("dashboard")
@click.option("--brand", required=True, help="notifier id or an unambiguous name prefix")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--now", "at", type=TIME, help="figures as of this time [default: now]")
@pass_runtime
def dashboard(rt: Runtime, brand: str, fmt: str, at: datetime | None) -> None:
    """A brand's dashboard: cases by state, rates, time to takedown, deadlines, top sellers
    and its trusted-lane standing with the figures behind it.

    \b
    Examples:
      ntd dashboard --brand Aurelia
      ntd dashboard --brand 0b5f2c1e-7d3a-4e8b-9c61-2f4d5e6a7b8c --format json
    """
    ntd = rt.caught_up()
    board = ntd.read_store.dashboard(resolve_brand(ntd, brand), at or rt.now(), ntd.app.rules)
    if fmt == "json":
        click.echo(board.model_dump_json(indent=2))
    else:
        click.echo(render.dashboard_view(board))


@cli.group()
def audit() -> None:
    """Query, export and verify the tamper-evident audit trail (every event, hash-chained).

    \b
    Examples:
      ntd audit query --case CASE --format table
      ntd audit query --brand Aurelia --type taken_down --since 2026-11-01 --format csv > out.csv
      ntd audit verify
    """


@audit.command("query")
@click.option("--case", "case_id", type=ID)
@click.option("--notice", "notice_id", type=ID)
@click.option("--brand", help="notifier id or name prefix")
@click.option("--seller", "seller_id", help="seller (as named in the audit rows)")
@click.option("--actor", help="e.g. agent:alice")
@click.option("--type", "event_type", help="event type, e.g. taken_down, deadline_missed")
@click.option("--since", type=TIME)
@click.option("--until", type=TIME)
@click.option("--limit", type=click.IntRange(1), help="stop after this many rows")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "jsonl"]),
    default="table",
    show_default=True,
)
@pass_runtime
def audit_query(
    rt: Runtime, brand: str | None, limit: int | None, fmt: str, **filters: Any
) -> None:
    """Stream audit rows matching every filter given, oldest first.

    \b
    Examples:
      ntd audit query --case CASE --format table
      ntd audit query --actor agent:alice --since 2026-11-01 --format jsonl
      ntd audit query --brand Aurelia --type counter_noticed --format csv > appeals.csv
    """
    from projections import AuditQuery

    ntd = rt.caught_up()
    if brand is not None:
        filters["notifier_id"] = resolve_brand(ntd, brand)
    if filters.get("actor"):
        filters["actor"] = str(ACTOR.convert(filters["actor"], None, None))
    stream = ntd.read_store.audit_query(AuditQuery(**filters))
    try:
        rows = islice(stream, limit) if limit is not None else stream
        if fmt == "csv":
            render.write_audit_csv(rows, sys.stdout)
        elif fmt == "jsonl":
            render.write_audit_jsonl(rows, sys.stdout)
        else:
            for line in render.audit_table(rows):
                click.echo(line)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # end the query before the store closes, even when stopped early


@audit.command("verify")
@pass_runtime
def audit_verify(rt: Runtime) -> None:
    """Recompute every hash chain; exit 1 naming the first broken link if one is broken.

    \b
    Example:
      ntd audit verify
    """
    result = rt.caught_up().read_store.verify_audit()
    if not result.ok:
        link = result.first_broken
        where = (
            (
                f"seq {link.seq}, aggregate {link.aggregate_id}"
                + (f", event {link.event_id}" if link.event_id else "")
                + f": {link.problem}"
            )
            if link
            else "an unnamed link"
        )
        raise Refused(
            f"audit trail broken at {where} "
            f"({result.rows:,} rows in {result.chains:,} chains checked)"
        )
    click.echo(f"audit trail intact: {result.rows:,} rows in {result.chains:,} hash chains")


# -- demo ------------------------------------------------------------------------------------


@cli.command("demo")
@click.option(
    "--size",
    type=click.FloatRange(0.01, 10),
    default=1.0,
    show_default=True,
    help="scale factor: 1.0 ≈ 3,000 notices",
)
@click.option(
    "--seed",
    type=int,
    default=2026,
    show_default=True,
    help="same seed, same notifiers, notices and case ids",
)
@click.option(
    "--weeks",
    type=click.IntRange(2, 52),
    default=8,
    show_default=True,
    help="simulated weeks, ending now",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="first delete the stores ntd created in the data dir (see above)",
)
@pass_runtime
def demo(rt: Runtime, size: float, seed: int, weeks: int, fresh: bool) -> None:
    """Build a realistic marketplace: brands, rights, sellers and thousands of notices
    decided over simulated weeks, then show dashboards, an audit excerpt and what to try.

    Refuses to run on a store that already holds events unless --fresh is given. --fresh
    deletes only SQLite stores inside the data dir that carry ntd's mark (set when ntd created
    them) with their -wal, -shm and -journal files; anything else (another file, a path outside
    the data dir, a symbolic link, a store of an older ntd) makes it delete nothing.

    \b
    Examples:
      ntd demo
      ntd demo --size 0.2 --seed 7 --fresh
      ntd --data-dir /tmp/ntd-demo demo --weeks 12
    """
    from ntd.demo import DemoError, run_demo

    try:
        run_demo(rt.settings, size=size, seed=seed, weeks=weeks, fresh=fresh)
    except DemoError as error:
        raise Refused(str(error)) from None


cli.add_command(streams.relay)
cli.add_command(streams.events)
cli.add_command(streams.consume)
cli.add_command(streams.projections_group)
cli.add_command(policy_cli.policies)


def main() -> None:
    """The `ntd` console script."""
    cli.main(prog_name="ntd")


if __name__ == "__main__":  # pragma: no cover
    main()
