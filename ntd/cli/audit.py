"""`ntd audit`: query, export and verify the tamper-evident audit trail."""

from __future__ import annotations

import sys
from itertools import islice
from typing import IO, Any

import click
from pydantic import ValidationError

from domain.values import Actor, CorruptEvent
from ntd import audit_export, reads
from ntd.cli.kit import Refused, Runtime, pass_runtime, resolve_brand
from ntd.cli.params import ACTOR, ID, LIMIT, TIME, as_option
from ntd.cli.render_audit import audit_table

EVENT_TYPES = audit_export.EVENT_TYPES


def _known_type(value: str | None) -> str | None:
    """A typo must not look like "no rows": refuse a type no event has."""
    if value is None or value in EVENT_TYPES:
        return value
    raise click.BadParameter(
        f"no event is of type {value!r}; the types are {', '.join(EVENT_TYPES)}"
    )


@click.group()
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
@click.option("--actor", "by_actor", help="rows of this actor, e.g. agent:alice")
@click.option(
    "--type",
    "event_type",
    callback=lambda _ctx, _param, value: _known_type(value),
    help="event type, e.g. taken_down, deadline_missed",
)
@click.option("--since", type=TIME)
@click.option("--until", type=TIME)
@click.option("--limit", type=LIMIT, help="stop after this many rows")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "jsonl"]),
    default="table",
    show_default=True,
)
@as_option
@pass_runtime
def audit_query(
    rt: Runtime, brand: str | None, limit: int | None, fmt: str, actor: Actor, **filters: Any
) -> None:
    """Stream audit rows matching every filter given, oldest first.

    \b
    Examples:
      ntd audit query --case CASE --format table
      ntd audit query --actor agent:alice --since 2026-11-01 --format jsonl
      ntd audit query --brand Aurelia --type counter_noticed --format csv > appeals.csv
    """
    from projections import AuditQuery

    rt.app.may_read("read_audit", actor)
    ntd = rt.caught_up()
    if brand is not None:
        filters["notifier_id"] = resolve_brand(ntd, brand, actor, "read_audit")
    by_actor = filters.pop("by_actor", None)
    if by_actor:
        try:
            filters["actor"] = str(Actor.parse(by_actor))  # the system's rows too
        except (ValueError, ValidationError):
            raise click.BadParameter(
                f"{by_actor!r} is not an actor: expected KIND:ID, e.g. agent:alice",
                param_hint="'--actor'",
            ) from None
    stream = ntd.read_store.audit_query(AuditQuery(**filters))
    try:
        rows = islice(stream, limit) if limit is not None else stream
        if fmt == "table":
            for line in audit_table(rows):
                click.echo(line)
        else:
            audit_export.write(rows, fmt, sys.stdout)
    finally:
        reads.close(stream)  # end the query before the store closes, even when stopped early


@audit.command("verify")
@click.option(
    "--since-checkpoint",
    is_flag=True,
    help="Walk the event store's chain only from the latest signed checkpoint (a routine run).",
)
@click.option(
    "--public-key",
    "public_key",
    metavar="KEY",
    help="The signing key's public half (`ed25519:…` as `ntd keys show` prints it, or its file)"
    " [default: the public half of NTD_SIGNING_KEY].",
)
@click.option(
    "--export",
    "export",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE",
    help="Check an export of the chain (`ntd audit chain --export`) offline, with --public-key.",
)
@click.option(
    "--checkpoints",
    "kept",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE",
    help="Checkpoints kept outside the store (`ntd audit checkpoints` output, or the messages of "
    "ntd.checkpoint.v1), held against the chain too: they survive the store's own being deleted.",
)
@click.option(
    "--as",
    "actor",
    type=ACTOR,
    envvar="NTD_ACTOR",
    metavar="KIND:ID",
    help="who gives the command (an auditor) [default: $NTD_ACTOR]; not needed with --export",
)
@pass_runtime
def audit_verify(
    rt: Runtime,
    since_checkpoint: bool,
    public_key: str | None,
    export: IO[str] | None,
    kept: IO[str] | None,
    actor: Actor | None,
) -> None:
    """Prove three things, naming the first broken spot of each: the event store's chain is
    intact and matches its signed checkpoints (truncation, deletion and recomputed links are
    caught); every published event has exactly one trail row with the same content; the
    trail's own hash chains hold. Exit 1 if any fails.

    With --export FILE --public-key KEY, check an exported chain offline: no store is read.

    \b
    Examples:
      ntd audit verify --as agent:audit.kim
      ntd audit verify --since-checkpoint --as agent:audit.kim
      ntd audit verify --export chain.jsonl --public-key ed25519:…
    """
    from ntd import evidence
    from ntd.signing import parse_public

    if export is not None:
        if public_key is None:
            raise click.UsageError(
                "--export needs --public-key: the key its checkpoints are signed by"
            )
        found = evidence.verify_export(export, parse_public(public_key))
        _say_store(found)
        if not found.ok:
            raise Refused(f"event store chain broken at {found.broken}")
        return
    if actor is None:
        raise click.UsageError(
            "missing option '--as': who gives the command, e.g. --as agent:audit.kim"
        )
    rt.app.may_read("read_audit", actor)
    ntd = rt.ntd()
    key = parse_public(public_key) if public_key else evidence.signing_public_key(ntd)
    # Catch up first: the policies may store events as they go, which the walk must then see.
    # A store too corrupt to catch up from is still walked; the trail is checked as it stands.
    try:
        rt.catch_up(ntd)
    except CorruptEvent as error:
        click.echo(f"note: the views could not catch up: {error}", err=True)
    with click.progressbar(
        length=max(evidence.chain_status(ntd).last, 1),
        label="walking the event store's chain",
        file=sys.stderr,
    ) as bar:
        store = evidence.verify_store(
            ntd,
            key,
            since_checkpoint,
            lambda done: bar.update(done - bar.pos),
            evidence.read_checkpoints(kept) if kept is not None else (),
        )
    _say_store(store)
    failures = [] if store.ok else [f"event store chain broken at {store.broken}"]
    match, result = evidence.verify_trail(ntd, store.published or {}, whole=not since_checkpoint)
    if match.ok:
        click.echo(
            f"trail matches the store: {match.events:,} published events, one identical row each"
        )
    else:
        click.echo(f"trail does not match the store: {match.problem}")
        failures.append(f"trail does not match the store at {match.problem}")
    if result.ok:
        click.echo(f"audit trail intact: {result.rows:,} rows in {result.chains:,} hash chains")
    else:
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
        click.echo(f"audit trail broken at {where}")
        checked = f"{result.rows:,} rows in {result.chains:,} chains checked"
        failures.append(f"audit trail broken at {where} ({checked})")
    if failures:
        raise Refused("; ".join(failures))


def _say_store(found: Any) -> None:
    report = found.report
    if found.ok:
        click.echo(
            f"event store chain intact: {report.events:,} events up to position "
            f"{report.position:,}, {found.checkpoints:,} signed checkpoints match"
        )
    else:
        click.echo(f"event store chain broken at {found.broken}")
    if found.warning:
        click.echo(f"note: {found.warning}", err=True)


@audit.command("checkpoint")
@click.option("--force", is_flag=True, help="Sign one now, even if none is due.")
@as_option
@pass_runtime
def audit_checkpoint(rt: Runtime, force: bool, actor: Actor) -> None:
    """Sign a checkpoint of the event store's chain now if one is due (every
    NTD_CHECKPOINT_EVENTS events or NTD_CHECKPOINT_MINUTES minutes; every command checks), store
    it and publish it to `ntd.checkpoint.v1` where Kafka feeds the views.

    \b
    Example:
      ntd audit checkpoint --force --as agent:admin.ops
    """
    from ntd import evidence

    rt.app.may_read("operate", actor)
    made = evidence.write_checkpoint(rt.ntd(), force=force)
    if made is None:
        click.echo("no checkpoint due (none newer to sign)")
    else:
        click.echo(f"checkpoint signed at position {made.position:,}: {made.head}")


@audit.command("checkpoints")
@as_option
@pass_runtime
def audit_checkpoints(rt: Runtime, actor: Actor) -> None:
    """Print every signed checkpoint as JSON lines, oldest first (to keep outside ntd).

    \b
    Example:
      ntd audit checkpoints --as agent:audit.kim > checkpoints.jsonl
    """
    from ntd import evidence

    rt.app.may_read("read_audit", actor)
    for made in evidence.checkpoints(rt.ntd()):
        click.echo(made.to_json())


@audit.command("chain")
@click.option(
    "--migrate",
    is_flag=True,
    help="Chain a store written before the chain, from the genesis link at its first event.",
)
@click.option(
    "--export",
    "export",
    type=click.File("w", encoding="utf-8"),
    metavar="FILE",
    help="Write the chain (every event with its link, then the signed checkpoints) as JSON "
    "lines, for `ntd audit verify --export FILE --public-key KEY` anywhere.",
)
@as_option
@pass_runtime
def audit_chain(rt: Runtime, migrate: bool, export: IO[str] | None, actor: Actor) -> None:
    """Show how far the event store is hash-chained; `--migrate` chains a store written before
    the chain (every event, in the log's order, stamped with the migration's time; see
    docs/evidence.md). Progress is shown on stderr.

    \b
    Examples:
      ntd audit chain --as agent:audit.kim
      ntd audit chain --migrate --as agent:admin.ops
    """
    from ntd import evidence

    rt.app.may_read("operate" if migrate else "read_audit", actor)
    ntd = rt.ntd()
    status = evidence.chain_status(ntd)
    if migrate:
        if status.links:
            raise Refused(
                f"the event store is chained already ({status.links:,} of {status.events:,} "
                "events linked); `ntd audit verify` names any gap"
            )
        with click.progressbar(
            length=max(status.last, 1), label="chaining the event store", file=sys.stderr
        ) as bar:
            chained = evidence.migrate_chain(ntd, lambda done: bar.update(done - bar.pos))
        status = evidence.chain_status(ntd)
        click.echo(f"chained {chained:,} events from the genesis link")
    if not status.chained:
        raise Refused(
            f"the event store is not chained: {status.events:,} events written before the "
            "chain; run `ntd audit chain --migrate`"
        )
    if export is not None:
        written = evidence.export_chain(ntd, export)
        click.echo(f"exported {written:,} events and their links", err=True)
    head = f" up to position {status.head[0]:,}, head {status.head[1].hex()}" if status.head else ""
    click.echo(f"event store chained: {status.links:,} links for {status.events:,} events{head}")
