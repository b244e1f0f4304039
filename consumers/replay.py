"""Reading ntd's topics from offset 0 up to the end offsets captured at the start (rebuilds)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import structlog
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from consumers.envelope import EnvelopeError, decode
from consumers.reach import DEFAULT_CONNECT_TIMEOUT, kafka_client
from consumers.topics import event_topic_names
from projections.parallel import Job, ShareOutcome, replay_share
from projections.parallel import rebuild_in_parallel as in_parallel
from projections.rebuild import Chunk
from projections.tracking import Partition

if TYPE_CHECKING:
    from projections.rebuild import Progress
    from projections.sql import SqlReadStore

log = structlog.get_logger("ntd.replay")


@dataclass
class TopicReplay:
    """Every event on the topics between the beginning and the ends seen at the start."""

    bootstrap: str
    prefix: str = ""
    chunk: int = 5000
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    """Seconds to wait for the broker before ServiceAway."""
    consumer: Any = None
    starts: dict[TopicPartition, int] = field(default_factory=dict)
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    skipped: int = 0
    """Records that do not decode (the consumer dead-letters them; a rebuild leaves them out)."""

    def open(self) -> TopicReplay:
        """Assign every partition of the topics and capture their first and end offsets."""
        self.consumer = kafka_client(
            KafkaConsumer,
            self.bootstrap,
            self.connect_timeout,
            group_id=None,
            enable_auto_commit=False,
            client_id="ntd-rebuild",
            max_poll_records=self.chunk,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        partitions = [
            TopicPartition(topic, number)
            for topic in event_topic_names(self.prefix)
            for number in sorted(self.consumer.partitions_for_topic(topic) or ())
        ]
        self.consumer.assign(partitions)
        self.starts = self.consumer.beginning_offsets(partitions)
        self.ends = self.consumer.end_offsets(partitions)
        for tp in partitions:
            self.consumer.seek(tp, self.starts[tp])
        return self

    @property
    def total(self) -> int:
        """How many records lie between the starts and the ends."""
        return sum(self.ends[tp] - self.starts[tp] for tp in self.ends)

    @property
    def offsets(self) -> dict[Partition, int]:
        """The ends, as the next offsets a consumer continues from."""
        return {(tp.topic, tp.partition): end for tp, end in self.ends.items()}

    def chunks(self) -> Iterator[Chunk]:
        """(notification id, event) pairs with their message payloads, about `chunk` records at a
        time."""
        remaining = {tp for tp in self.ends if self.ends[tp] > self.starts[tp]}
        self.consumer.pause(*(set(self.ends) - remaining))
        chunk = Chunk()
        while remaining:
            for tp, records in self.consumer.poll(timeout_ms=1000).items():
                end = self.ends[tp]
                for record in records:
                    if record.offset >= end:
                        break
                    self._add(chunk, record)
            for tp in [tp for tp in remaining if self.consumer.position(tp) >= self.ends[tp]]:
                remaining.discard(tp)
                self.consumer.pause(tp)
            if len(chunk) >= self.chunk or (chunk and not remaining):
                yield chunk
                chunk = Chunk()

    def _add(self, chunk: Chunk, record: Any) -> None:
        try:
            incoming = decode(record.value, record.headers or ())
        except EnvelopeError as error:
            self._skip(record, str(error))
            return
        if incoming.notification_id is None:
            self._skip(record, "missing or malformed ntd_notification_id header")
            return
        chunk.add(incoming.notification_id, incoming.event, incoming.payload)

    def _skip(self, record: Any, reason: str) -> None:
        self.skipped += 1
        log.warning(
            "rebuild.skipped",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
        )

    def close(self) -> None:
        """Close the consumer."""
        if self.consumer is not None:
            self.consumer.close(autocommit=False)
            self.consumer = None


def partitions(
    bootstrap: str, prefix: str = "", connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
) -> list[Partition]:
    """Every (topic, partition) of ntd's topics (ServiceAway if the broker does not answer
    within `connect_timeout` seconds)."""
    consumer = kafka_client(
        KafkaConsumer, bootstrap, connect_timeout, group_id=None, client_id="ntd-admin"
    )
    try:
        return [
            (topic, number)
            for topic in event_topic_names(prefix)
            for number in sorted(consumer.partitions_for_topic(topic) or ())
        ]
    finally:
        consumer.close(autocommit=False)


# -- in parallel, a share of the partitions per process ----------------------------------------

Shard = list[tuple[str, int, int, int]]
"""(topic, partition, start offset, end offset) of each partition one worker replays."""


def shards(replay: TopicReplay, workers: int) -> list[Shard]:
    """The partitions with records, dealt to `workers` shares of about equal record counts."""
    sizes = sorted(
        ((replay.ends[tp] - replay.starts[tp], tp) for tp in replay.ends),
        key=lambda item: (-item[0], item[1].topic, item[1].partition),
    )
    dealt: list[Shard] = [[] for _ in range(workers)]
    loads = [0] * workers
    for size, tp in sizes:
        if size <= 0:
            continue
        lightest = loads.index(min(loads))
        dealt[lightest].append((tp.topic, tp.partition, replay.starts[tp], replay.ends[tp]))
        loads[lightest] += size
    return [shard for shard in dealt if shard]


def replay_shard(
    read_dsn: str, bootstrap: str, shard: Shard, index: int, chunk: int = 5000
) -> ShareOutcome:
    """In a worker: replay one share of the partitions (a partition holds each of its
    aggregates whole) into the fresh tables a parent rebuild created."""
    feed = TopicReplay(bootstrap, chunk=chunk)
    feed.consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id="ntd-rebuild",
        max_poll_records=chunk,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    partitions = [TopicPartition(topic, number) for topic, number, _, _ in shard]
    feed.consumer.assign(partitions)
    for (_, _, start, end), tp in zip(shard, partitions, strict=True):
        feed.starts[tp], feed.ends[tp] = start, end
        feed.consumer.seek(tp, start)
    try:
        outcome = replay_share(read_dsn, feed.chunks(), index)
    finally:
        feed.close()
    return replace(outcome, skipped=feed.skipped)


def rebuild_in_parallel(
    store: SqlReadStore,
    read_dsn: str,
    replay: TopicReplay,
    workers: int,
    progress: Callable[[Progress], None] | None = None,
) -> ShareOutcome:
    """Rebuild a PostgreSQL read store from the topics with `workers` processes, each replaying
    a share of the partitions; the ends become the consumer's offsets."""
    from projections.rebuild import Positions

    jobs: list[Job] = [
        (replay_shard, (read_dsn, replay.bootstrap, shard, index, replay.chunk))
        for index, shard in enumerate(shards(replay, workers))
    ]
    return in_parallel(store, jobs, Positions(0, "projections", replay.offsets), progress)
