"""CLI commands that touch Kafka: `ntd relay`, `ntd events tail`, `ntd consume NAME` and
`ntd projections rebuild`."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
import structlog

from ntd.bootstrap import (
    CONSUMERS,
    UnknownConsumer,
    build_consumer,
    build_relay,
)
from ntd.clikit import Refused, Runtime, pass_runtime
from ntd.rebuild import PARALLEL_FROM, REBUILDABLE, Tick, rebuild_projections
from projections.rebuild import Progress

if TYPE_CHECKING:
    pass

log = structlog.get_logger("ntd.cli")


@click.command("relay")
@click.option(
    "--page-size",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 50_000),
    help="Notifications read and produced per round trip.",
)
@click.option(
    "--until-caught-up",
    is_flag=True,
    help="Stop once the store's head is on Kafka (for batch jobs and tests).",
)
@click.option(
    "--encoder-process/--no-encoder-process",
    default=None,
    help="Read and encode the log in a second process while this one produces "
    "[default: on with the PostgreSQL event store].",
)
@pass_runtime
def relay(rt: Runtime, page_size: int, until_caught_up: bool, encoder_process: bool | None) -> None:
    """Follow the event store's notification log and produce every event to Kafka.

    Topics: one per aggregate type (ntd.case.v1, ntd.notifier.v1, ntd.seller.v1), created at start
    with NTD_KAFKA_PARTITIONS partitions, keyed by aggregate id. The position is stored only after
    the broker acknowledged (acks=all); a broker outage is waited out with back-off. SIGTERM or
    Ctrl-C stops it cleanly.

    \b
    Example:
      NTD_EVENT_STORE=postgres NTD_EVENTS_DSN=postgresql://ntd:ntd@127.0.0.1:5432/ntd_events \\
        ntd relay
    """
    from consumers.relay import ensure_topics

    ntd = rt.ntd()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    settings = ntd.settings
    backoff = 0.5
    while not stop.is_set():
        try:
            ensure_topics(
                settings.kafka_bootstrap, settings.kafka_partitions, settings.topic_prefix
            )
            break
        except Exception as error:  # the broker may still be starting; wait and retry
            log.warning("relay.topics_unavailable", error=str(error), retry_in=backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)
    options: dict[str, Any] = {"page_size": page_size}
    if encoder_process is not None:
        options["encoder_process"] = encoder_process
    worker = build_relay(ntd, **options)
    try:
        worker.run(stop, until_caught_up=until_caught_up)
    finally:
        worker.close()


@click.group("events")
def events() -> None:
    """Subscribe to ntd's events on Kafka (published there by `ntd relay`).

    \b
    Examples:
      ntd events tail --from-beginning
      ntd events tail --type ntd.case. --idle-exit 5
    """


@events.command("tail")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest retained event.")
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="T",
    help="Only events whose ce_type starts with T, e.g. ntd.case.taken_down (repeatable).",
)
@click.option(
    "--idle-exit",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Exit after this long without a new event.",
)
@pass_runtime
def tail_command(
    rt: Runtime, from_beginning: bool, types: tuple[str, ...], idle_exit: float | None
) -> None:
    """Print events as JSON lines: id, type, subject, time, data (the reference subscriber).

    \b
    Examples:
      ntd events tail --from-beginning --type ntd.case.taken_down
      ntd events tail | jq 'select(.type | startswith("ntd.case."))'
    """
    from consumers.tail import tail

    ntd_settings = rt.settings
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.monotonic()
    count = 0
    try:
        for line in tail(
            ntd_settings.kafka_bootstrap,
            ntd_settings.topic_prefix,
            from_beginning,
            types,
            stop,
            idle_exit,
        ):
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            count += 1
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        return
    log.info("tail.stopped", events=count, seconds=round(time.monotonic() - started, 1))


# -- consumers -------------------------------------------------------------------------------


@click.command("consume")
@click.argument("name", type=click.Choice(CONSUMERS), metavar="NAME")
@click.option(
    "--batch-size",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 50_000),
    help="Most records per poll; each batch is one database transaction.",
)
@click.option(
    "--until-caught-up",
    is_flag=True,
    help="Stop once every assigned partition is applied up to its end (batch jobs, tests).",
)
@click.option(
    "--instance-id",
    metavar="ID",
    help="Static group membership (group.instance.id): a restarted consumer with the same id "
    "takes its partitions back at once instead of waiting for the session to expire.",
)
@click.option(
    "--lag-interval",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.5),
    help="Seconds between consumer.lag log lines.",
)
@pass_runtime
def consume(
    rt: Runtime,
    name: str,
    batch_size: int,
    until_caught_up: bool,
    instance_id: str | None,
    lag_interval: float,
) -> None:
    """Consume ntd's topics into NAME: `projections` (the read models behind dashboard, audit
    and deadlines, in NTD_READ_DSN) or `policies` (trusted lane, misuse, strikes).

    Kafka consumer group `<NTD_TOPIC_PREFIX>ntd-NAME`, manual commits: each polled batch is
    applied with its offsets in one database transaction, so a redelivered batch changes
    nothing and a crash loses nothing. A message that does not decode or validate goes to the
    dead-letter topic (ntd.deadletter.v1) with the reason, and the consumer goes on. Lag is
    logged as consumer.lag. SIGTERM or Ctrl-C stops it after the current batch.

    \b
    Examples:
      NTD_FEED=kafka NTD_READ_DSN=postgresql://ntd:ntd@127.0.0.1:5432/ntd_read \\
        ntd consume projections
      ntd consume projections --instance-id read-1 --batch-size 5000
      ntd consume projections --until-caught-up
    """
    from consumers.relay import ensure_topics

    ntd = rt.ntd()
    stop = _stop_on_signals()
    settings = ntd.settings
    _wait_for_topics(
        stop,
        lambda: ensure_topics(
            settings.kafka_bootstrap, settings.kafka_partitions, settings.topic_prefix
        ),
    )
    try:
        loop = build_consumer(
            ntd,
            name,
            max_poll_records=batch_size,
            instance_id=instance_id,
            lag_interval=lag_interval,
        )
    except UnknownConsumer as error:
        raise Refused(str(error)) from None
    try:
        loop.run(stop, until_caught_up=until_caught_up)
    finally:
        loop.sink.close()


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _wait_for_topics(stop: threading.Event, ensure: Callable[[], object]) -> None:
    backoff = 0.5
    while not stop.is_set():
        try:
            ensure()
            return
        except Exception as error:  # the broker may still be starting; wait and retry
            log.warning("consumer.topics_unavailable", error=str(error), retry_in=backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)


# -- rebuilds --------------------------------------------------------------------------------


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
@pass_runtime
def rebuild_command(
    rt: Runtime, names: tuple[str, ...], everything: bool, source: str | None, workers: int
) -> None:
    """Replay every event from the beginning into fresh tables and swap them in atomically:
    queries see the old views or the new ones, never half of one. A running consumer goes on
    from where the rebuild ended. Progress (events/s) is shown on stderr.

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
    ntd = rt.ntd()
    chosen = source or ("kafka" if ntd.settings.feed == "kafka" else "store")
    for name in REBUILDABLE if everything else dict.fromkeys(names):
        report = rebuild_projections(ntd, chosen, _rebuild_bar, workers)
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
