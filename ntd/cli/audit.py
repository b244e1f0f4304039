"""`ntd audit`: query, export and verify the tamper-evident audit trail."""

from __future__ import annotations

import sys
from itertools import islice
from typing import Any

import click
from pydantic import ValidationError

from domain.values import Actor
from ntd import audit_export, reads
from ntd.cli.kit import Refused, Runtime, pass_runtime, resolve_brand
from ntd.cli.params import ID, LIMIT, TIME, as_option
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
@as_option
@pass_runtime
def audit_verify(rt: Runtime, actor: Actor) -> None:
    """Recompute every hash chain; exit 1 naming the first broken link if one is broken.

    \b
    Example:
      ntd audit verify
    """
    rt.app.may_read("read_audit", actor)
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


@audit.command("chain")
@click.option(
    "--migrate",
    is_flag=True,
    help="Chain a store written before the chain, from the genesis link at its first event.",
)
@as_option
@pass_runtime
def audit_chain(rt: Runtime, migrate: bool, actor: Actor) -> None:
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
    head = f" up to position {status.head[0]:,}, head {status.head[1].hex()}" if status.head else ""
    click.echo(f"event store chained: {status.links:,} links for {status.events:,} events{head}")
