"""`ntd projections rebuild`: replay every event into fresh read models and swap them in."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from domain.values import Actor
from ntd.cli.kit import Runtime, pass_runtime
from ntd.cli.params import ACTOR
from ntd.rebuild import PARALLEL_FROM, REBUILDABLE, Override, Tick, rebuild_projections
from projections.rebuild import Progress


@click.group("projections")
def projections_group() -> None:
    """Manage the read models (projections): rebuild them from the beginning.

    \b
    Examples:
      ntd projections rebuild --all
      ntd projections rebuild projections --from store
    """


@projections_group.command("rebuild")
@click.argument("names", nargs=-1, type=click.Choice(REBUILDABLE), metavar="[NAME]...")
@click.option("--all", "everything", is_flag=True, help="Rebuild every projection.")
@click.option(
    "--from",
    "source",
    type=click.Choice(["kafka", "store"]),
    help="Replay Kafka's topics from offset 0, or the event store's log "
    "[default: kafka when NTD_FEED=kafka, else store].",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="Processes replaying shares of the aggregates (Kafka's partitions, or the PostgreSQL "
    "event store's aggregates) into PostgreSQL side by side "
    f"(0: one per CPU, at most 4, from {PARALLEL_FROM:,} events on).",
)
@click.option(
    "--override-broken-chain",
    "override",
    is_flag=True,
    help="Rebuild even though the event store's chain is broken; recorded as an event with "
    "--reason and --as (an admin).",
)
@click.option("--reason", help="Why the broken chain is overridden (recorded).")
@click.option(
    "--as",
    "actor",
    type=ACTOR,
    envvar="NTD_ACTOR",
    metavar="KIND:ID",
    help="who overrides (with --override-broken-chain) [default: $NTD_ACTOR]",
)
@pass_runtime
def rebuild_command(
    rt: Runtime,
    names: tuple[str, ...],
    everything: bool,
    source: str | None,
    workers: int,
    override: bool,
    reason: str | None,
    actor: Actor | None,
) -> None:
    """Replay every event from the beginning into fresh tables and swap them in atomically:
    queries see the old views or the new ones, never half of one. A running consumer goes on
    from where the rebuild ended. Progress (events/s) is shown on stderr.

    The event store's hash chain is checked first, against its signed checkpoints: a store that
    fails it is refused, naming the broken spot, so a forged store is never sealed into a fresh
    trail (--override-broken-chain goes on, recorded as an event naming who and why).

    `projections` is every read model ntd queries (cases and dashboard figures, deadlines,
    notifiers, the audit trail): they share one position, so they are rebuilt together.

    \b
    Examples:
      ntd projections rebuild --all
      NTD_FEED=kafka ntd projections rebuild projections            # from Kafka, offset 0
      ntd projections rebuild projections --from store
    """
    if not names and not everything:
        raise click.UsageError("name a projection or give --all")
    overriding = None
    if override:
        if actor is None or not reason:
            raise click.UsageError("--override-broken-chain needs --reason TEXT and --as KIND:ID")
        overriding = Override(actor, reason)
    ntd = rt.ntd()
    chosen = source or ("kafka" if ntd.settings.feed == "kafka" else "store")
    for name in REBUILDABLE if everything else dict.fromkeys(names):
        report = rebuild_projections(ntd, chosen, _rebuild_bar, workers, overriding)
        click.echo(
            f"rebuilt {name} from {chosen}: {report.events:,} events in {report.seconds:.1f} s "
            f"({report.rate:,.0f} events/s"
            + (f", {report.workers} processes)" if report.workers > 1 else ")")
            + (f", {report.left_out} left out (see the log)" if report.left_out else "")
            + (f", {report.duplicates} re-sent events skipped" if report.duplicates else "")
        )


@contextmanager
def _rebuild_bar(total: int, label: str) -> Iterator[Tick]:
    """A progress bar on stderr with the rate in events/s."""

    def rate(progress: Progress | None) -> str | None:
        return f"{progress.rate:,.0f} events/s" if progress else None

    with click.progressbar(
        length=max(total, 1),
        label=label,
        file=sys.stderr,
        show_pos=True,
        width=30,
        item_show_func=rate,
    ) as bar:

        def tick(done: int, progress: Progress) -> None:
            bar.update(max(0, min(done, total) - bar.pos), progress)

        yield tick
