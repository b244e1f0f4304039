"""Rebuilding the read models: the service operation behind `ntd projections rebuild`, which
the CLI, the bench and the tests call. It picks the feed (Kafka's topics from offset 0, or the
event store's log), how many processes replay it side by side, and reports what it did."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import structlog

from consumers.stored import published
from domain.catalog import internal_topics
from domain.values import Actor, DomainEvent
from ntd.bootstrap import Ntd, store_reader
from ntd.event_store import PostgresBatchReader, StoreReader
from ntd.services import connect_timeout
from projections.parallel import ShareOutcome
from projections.rebuild import Chunk, Positions, Progress, decoded
from projections.tracking import Partition

if TYPE_CHECKING:
    from consumers.replay import TopicReplay
    from ntd.config import Settings
    from projections.parallel import Job
    from projections.sql import SqlReadStore

PROJECTIONS = "projections"
REBUILDABLE = (PROJECTIONS,)
"""What `ntd projections rebuild` can rebuild: the read models share one position."""
PARALLEL_FROM = 100_000
"""Records on the topics from which an automatic rebuild from Kafka uses several processes."""

log = structlog.get_logger("ntd.rebuild")


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


@dataclass(frozen=True)
class Override:
    """Who rebuilds from a store whose chain is broken, and why (recorded as an event)."""

    actor: Actor
    reason: str


def check_store(ntd: Ntd, override: Override | None = None) -> None:
    """The event store's chain, held against its signed checkpoints, before anything is built
    from it: ChainRefused naming the broken spot, unless `override` (then the override is
    recorded in the store as a ChainOverride event and the rebuild goes on)."""
    from ntd.evidence import ChainRefused, signing_public_key, verify_store

    found = verify_store(ntd, signing_public_key(ntd))
    if found.broken is None:
        return
    if override is None:
        raise ChainRefused(
            f"refusing to rebuild the views from an event store whose chain is broken at "
            f"{found.broken}; `ntd audit verify` says more (to go on anyway, and have it "
            "recorded: --override-broken-chain --reason TEXT --as ADMIN)"
        )
    ntd.app.override_broken_chain(
        "projections rebuild",
        found.broken.position,
        found.broken.problem,
        override.reason,
        override.actor,
    )
    log.warning(
        "rebuild.chain_overridden",
        position=found.broken.position,
        problem=found.broken.problem,
        actor=str(override.actor),
        reason=override.reason,
    )


def rebuild_projections(
    ntd: Ntd,
    source: str,
    bar: ProgressBar | None = None,
    workers: int = 0,
    override: Override | None = None,
) -> RebuildReport:
    """Rebuild the read models from `kafka` (offset 0 to the ends seen at the start) or from
    the event `store` (its log up to the last id seen at the start), then swap them in; first
    the store's chain is checked (check_store), whichever the feed.

    Into PostgreSQL, `workers` processes replay shares of the aggregates side by side (Kafka's
    partitions, or the PostgreSQL event store's aggregates by hash of their id); 0 means one per
    CPU, at most 4, for PARALLEL_FROM events or more."""
    check_store(ntd, override)
    started = time.monotonic()
    feed = _kafka_feed(ntd) if source == "kafka" else _store_feed(ntd)
    try:
        with (bar or no_bar)(feed.total, f"rebuilding projections from {source}") as tick:
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
    replay = TopicReplay(
        settings.kafka_bootstrap, settings.topic_prefix, connect_timeout=connect_timeout()
    ).open()
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
        known = partitions(settings.kafka_bootstrap, settings.topic_prefix, connect_timeout())
        offsets = dict.fromkeys(known, 0)
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
        yield decoded([n for n in page.rows if published(n)], mapper)
        position = page.last_id


@contextmanager
def no_bar(total: int, label: str) -> Iterator[Tick]:
    yield lambda done, progress: None
