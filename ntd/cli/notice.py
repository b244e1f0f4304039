"""`ntd notice`: file notices (one case per listing) and print a valid example to start from."""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any
from uuid import UUID

import click

from domain.case import ReasonCode
from domain.notice import parse_notice
from domain.values import Actor, ActorKind
from ntd.cli.kit import Runtime, pass_runtime
from ntd.cli.params import ID, as_option, choice
from ntd.cli.render import receipt
from ntd.inputs import InputError, decode, parse_json, read_capped, read_file


@click.group()
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
    type=click.Path(dir_okay=False, allow_dash=True),
    metavar="FILE|-",
    help="the notice as JSON (see `ntd notice template`); flags override its fields",
)
@click.option("--notifier", "notifier_id", type=ID)
@click.option("--right", "right_id", type=ID, help="the verified right relied on")
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
@as_option
@click.option("-q", "--quiet", is_flag=True, help="print only the case ids, one per line")
@pass_runtime
def notice_file(rt: Runtime, source: str | None, actor: Actor, quiet: bool, **flags: Any) -> None:
    """File a notice from JSON and/or flags; prints the receipt (one case per listing).

    \b
    Examples:
      ntd notice file --json notice.json
      ntd notice file --json notice.json --notifier NOTIFIER --right RIGHT
      ntd notice file --notifier NOTIFIER --right RIGHT --as notifier_user:j.moreau \\
          --listing "marketly:B0912:https://marketly.example/item/B0912:luxe-deals" \\
          --reason counterfeit \\
          --explanation "Test buy 88121: counterfeit stitching, fake serial tag" \\
          --evidence "test_buy:order 88121:$(sha256sum photos.zip | cut -c1-64)" \\
          --contact-name "Jeanne Moreau" --contact-email legal@aurelia.example \\
          --signature "/s/ Jeanne Moreau" --good-faith --accurate
    """
    given = _read_json(source, rt.settings.max_input_bytes) if source is not None else {}
    filing = rt.app.file_notice(parse_notice(_notice_data(given, flags, actor)), actor)
    if quiet:
        for filed in filing.cases:
            click.echo(str(filed.case_id))
        return
    click.echo(receipt(filing))


def _read_json(source: str, limit: int) -> dict[str, Any]:
    """The notice's JSON object from a file or standard input (`-`), read within the input
    limit; a named pipe no one writes to reads as empty instead of waiting for ever."""
    name = "standard input" if source == "-" else source
    try:
        if source == "-":
            raw = read_capped(sys.stdin.buffer, limit, name)
        else:
            raw = read_file(source, limit, name)
        data = parse_json(decode(raw, name), name)
    except InputError as error:
        raise click.BadParameter(str(error), param_hint="'--json'") from None
    except OSError as error:
        raise click.BadParameter(f"{source}: {error.strerror}", param_hint="'--json'") from None
    if not isinstance(data, dict):
        raise click.BadParameter("the notice must be a JSON object", param_hint="'--json'")
    return data


def _notice_data(given: dict[str, Any], flags: dict[str, Any], actor: Actor) -> dict[str, Any]:
    data = dict(given)
    simple = {
        "notifier_id": "notifier_id",
        "right_id": "right_id",
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
    if actor.kind is ActorKind.NOTIFIER_USER:
        data["submitted_by"] = actor.id  # who files is who --as says, not what the file says
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
