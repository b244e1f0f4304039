"""CLI commands that touch Kafka: `ntd relay`, `ntd events tail`, `ntd consume NAME` and
`ntd projections rebuild`."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import click
import structlog

from domain.catalog import internal_topics, is_published
from domain.values import DomainEvent
from ntd.bootstrap import (
    CONSUMERS,
    Ntd,
    UnknownConsumer,
    build_consumer,
    build_relay,
    store_reader,
)
from ntd.clikit import Refused, Runtime, pass_runtime
from ntd.event_store import PostgresBatchReader, StoreReader
from projections.parallel import ShareOutcome
from projections.rebuild import Chunk, Positions, Progress, decoded
from projections.tracking import Partition

if TYPE_CHECKING:
    from consumers.replay import TopicReplay
    from ntd.config import Settings
    from projections.parallel import Job
    from projections.sql import SqlReadStore

PROJECTIONS = "projections"

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

REBUILDABLE = ("projections",)
PARALLEL_FROM = 100_000
"""Records on the topics from which an automatic rebuild from Kafka uses several processes."""


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


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild did."""

    events: int
    seconds: float
    left_out: int
    workers: int = 1
    duplicates: int = 0
    """Events the feed held twice (re-sent by the relay at another offset), applied once."""

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds else 0.0


Tick = Callable[[int, "Progress"], None]
"""Moves a bar to a position, showing the progress' rate."""
ProgressBar = Callable[[int, str], AbstractContextManager[Tick]]


def rebuild_projections(
    ntd: Ntd, source: str, bar: ProgressBar | None = None, workers: int = 0
) -> RebuildReport:
    """Rebuild the read models from `kafka` (offset 0 to the ends seen at the start) or from
    the event `store` (its log up to the last id seen at the start), then swap them in.

    Into PostgreSQL, `workers` processes replay shares of the aggregates side by side (Kafka's
    partitions, or the PostgreSQL event store's aggregates by hash of their id); 0 means one per
    CPU, at most 4, for PARALLEL_FROM events or more."""
    started = time.monotonic()
    feed = _kafka_feed(ntd) if source == "kafka" else _store_feed(ntd)
    try:
        with (bar or _no_bar)(feed.total, f"rebuilding projections from {source}") as tick:
            count = _workers(ntd, feed, workers)
            outcome = _replay(ntd, feed, count, feed.measured(tick))
    finally:
        feed.close()
    for seq, reason in outcome.rejected:
        log.warning("rebuild.left_out", seq=seq, reason=reason)
    seconds = time.monotonic() - started
    log.info(
        "rebuild.done",
        source=source,
        events=outcome.events,
        duplicates=outcome.duplicates,
        seconds=round(seconds, 2),
    )
    left_out = len(outcome.rejected) + outcome.skipped
    return RebuildReport(outcome.events, seconds, left_out, count, outcome.duplicates)


def _replay(
    ntd: Ntd, feed: _Feed, count: int, progress: Callable[[Progress], None]
) -> ShareOutcome:
    from projections.rebuild import rebuild

    if count > 1:
        log.info("rebuild.parallel", workers=count)
        store = cast("SqlReadStore", ntd.read_store)
        if feed.topics is not None:
            from consumers.replay import rebuild_in_parallel

            outcome = rebuild_in_parallel(
                store, ntd.settings.read_dsn, feed.topics, count, progress
            )
        else:
            from projections.parallel import rebuild_in_parallel as in_parallel

            jobs: list[Job] = [
                (replay_store_share, (ntd.settings, feed.total, (k, count))) for k in range(count)
            ]
            outcome = in_parallel(store, jobs, feed.positions, progress)
        return outcome
    replay = rebuild(ntd.read_store, feed.chunks, feed.positions, progress)
    return ShareOutcome(replay.events, replay.rejected, feed.skipped(), replay.duplicates)


def replay_store_share(settings: Settings, last: int, share: tuple[int, int]) -> ShareOutcome:
    """In a worker: replay share k of n of the event store's aggregates, up to `last`."""
    from ntd.bootstrap import build
    from projections.parallel import replay_share

    ntd = build(settings)
    reader = store_reader(ntd)
    try:
        chunks = _log_chunks(ntd, reader, last, share=share)
        return replay_share(settings.read_dsn, chunks, share[0])
    finally:
        reader.close()
        ntd.close()


def _workers(ntd: Ntd, feed: _Feed, asked: int) -> int:
    settings = ntd.settings
    if not settings.read_dsn.startswith(("postgresql:", "postgres:")):
        return 1
    if feed.topics is None and settings.event_store != "postgres":
        return 1
    if asked:
        return asked
    return min(os.cpu_count() or 1, 4) if feed.total >= PARALLEL_FROM else 1


@dataclass
class _Feed:
    """Where a rebuild's events come from and the positions it leaves behind."""

    total: int
    chunks: Iterable[Sequence[tuple[int, DomainEvent]]]
    positions: Positions
    close: Callable[[], None] = lambda: None
    skipped: Callable[[], int] = lambda: 0
    done: Callable[[Progress], int] = lambda progress: progress.events
    """How far along the total a rebuild is."""
    topics: TopicReplay | None = None
    """The topics' replay, when the events come from Kafka."""

    def measured(self, tick: Callable[[int, Progress], None]) -> Callable[[Progress], None]:
        """The rebuild's progress callback for a bar that counts in this feed's unit."""
        return lambda progress: tick(self.done(progress), progress)


def _kafka_feed(ntd: Ntd) -> _Feed:
    from consumers.replay import TopicReplay

    settings = ntd.settings
    replay = TopicReplay(settings.kafka_bootstrap, settings.topic_prefix).open()
    return _Feed(
        total=replay.total,
        chunks=replay.chunks(),
        positions=Positions(0, PROJECTIONS, replay.offsets),
        close=replay.close,
        skipped=lambda: replay.skipped,
        topics=replay,
    )


def _store_feed(ntd: Ntd) -> _Feed:
    """The log up to its last id now; with NTD_FEED=kafka the consumer's offsets go back to 0
    and the watermark (the last id) makes it skip what the rebuild already holds."""
    last = ntd.app.recorder.max_notification_id() or 0
    reader = store_reader(ntd)
    offsets: dict[Partition, int] = {}
    if ntd.settings.feed == "kafka":
        from consumers.replay import partitions

        settings = ntd.settings
        offsets = dict.fromkeys(partitions(settings.kafka_bootstrap, settings.topic_prefix), 0)
    return _Feed(
        total=last,
        chunks=_log_chunks(ntd, reader, last),
        positions=Positions(last, PROJECTIONS, offsets),
        close=reader.close,
        done=lambda progress: progress.last_seq,
    )


def _log_chunks(
    ntd: Ntd,
    reader: StoreReader,
    last: int,
    size: int = 5000,
    share: tuple[int, int] | None = None,
) -> Iterator[Chunk]:
    """The published events of the log (of one share of the aggregates, with `share`), a page
    at a time; internal ones (listing claims) change no view, so they are not even read (but
    for a page's last row)."""
    mapper, skip = ntd.app.mapper, internal_topics()
    position = 0
    while position < last:
        if share is None:
            page = reader.notifications(position + 1, size, skip, stop=last)
        else:
            assert isinstance(reader, PostgresBatchReader)
            page = reader.notifications(position + 1, size, skip, stop=last, share=share)
        if not page.last_id:
            return
        yield decoded([n for n in page.rows if is_published(n.topic)], mapper)
        position = page.last_id


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


@contextmanager
def _no_bar(total: int, label: str) -> Iterator[Tick]:
    yield lambda done, progress: None
