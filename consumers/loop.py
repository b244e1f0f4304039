"""The consumer loop behind `ntd consume NAME`: poll a batch, decode it, hand it to a sink with
its positions, then tell Kafka. Thin on purpose; what a consumer does lives in its sink.

The sink's contract, and what the loop promises it (order, spans, rebalances, retries), is in
consumers/sink.py; dead letters are in consumers/dead_letters.py; what a loop connects to and
how it batches is `LoopConfig` (consumers/loop_config.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from consumers.dead_letters import DeadLetter, make_dead_letter_producer, send_dead_letters
from consumers.envelope import EnvelopeError, decode
from consumers.loop_config import LoopConfig
from consumers.reach import Backoff, ServiceAway, kafka_client
from consumers.rebalance import Reseeker
from consumers.relay import Ready, close_producer
from consumers.sink import Consumed, Rejected, Sink
from projections.tracking import Applied, PositionsMoved, Span

log = structlog.get_logger("ntd.consumer")

POSITION_CHECK_INTERVAL = 1.0
"""Seconds between checks, while idle, that the stored positions are still the loop's."""


class FatalPositions(RuntimeError):
    """Stored positions point below what the topic still holds: rebuild from the event store."""


def make_consumer(config: LoopConfig) -> KafkaConsumer:
    """A group member with manual commits, starting at the beginning when nothing is stored;
    ServiceAway if the broker does not answer within the config's connect timeout."""
    return kafka_client(
        KafkaConsumer,
        config.bootstrap,
        config.connect_timeout,
        group_id=config.group_id,
        group_instance_id=config.instance_id,
        client_id=f"ntd-{config.name}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=config.max_poll_records,
        partition_assignment_strategy=(RangePartitionAssignor, RoundRobinPartitionAssignor),
        metadata_max_age_ms=60_000,  # a topic the group missed is noticed within a minute
    )


@dataclass(frozen=True)
class _InFlight:
    """A batch handed to the sink's thread, not yet known to be applied."""

    future: Future[Applied]
    spans: Mapping[TopicPartition, Span]
    records: int


class ConsumerLoop:
    """Polls batches for a sink: decode, dead-letter, apply, commit; see the module docstring.

    The sink applies one batch on its own thread while the loop polls and decodes the next;
    every sink call goes through that thread, one at a time, so a database connection is never
    shared (and a failed batch is known before the next one is handed over)."""

    def __init__(
        self,
        config: LoopConfig,
        sink: Sink,
        consumer_factory: Callable[[LoopConfig], Any] = make_consumer,
        producer_factory: Callable[[LoopConfig], Any] = make_dead_letter_producer,
    ) -> None:
        self.config = config
        self.sink = sink
        self.consumer_factory = consumer_factory
        self.producer_factory = producer_factory
        self.consumer: Any = None
        self.producer: Any = None
        self.listener = Reseeker()
        self.applied: dict[TopicPartition, int] = {}
        """Next offset per assigned partition, as stored by the sink."""
        self.rejected: dict[tuple[TopicPartition, int], str] = {}
        self.log = log.bind(consumer=config.name, group=config.group_id)
        self.records = 0
        self.dead_letters = 0
        self.duplicates = 0
        """Events skipped because the sink already held them (re-sent at new offsets)."""
        self.gaps = 0
        """Events a sink handled although an earlier event of their aggregate never came."""
        self.batches = 0
        self._next_check = 0.0
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"ntd-{config.name}-sink")
        self._inflight: _InFlight | None = None

    # -- running -------------------------------------------------------------------------------

    def run(
        self, stop: threading.Event, until_caught_up: bool = False, ready: Ready | None = None
    ) -> None:
        """Consume until `stop` is set (or, with until_caught_up, until nothing is left);
        `ready` is told when batches flow, and when they stop flowing (retrying)."""
        told = ready or (lambda _: None)
        backoff = Backoff(self.config.max_backoff)
        next_lag = time.monotonic() + self.config.lag_interval
        try:
            if not self._join(stop):
                return
            recover = False
            while not stop.is_set():
                try:
                    if recover:  # in the try: the database may still be away
                        self._recover()
                        recover = False
                    handled = self.step()
                    if handled == 0:
                        self.flush()
                        self.check_positions()
                    backoff.reset()
                    told(True)
                except FatalPositions:
                    raise
                except Exception as error:  # the database or broker failed: retry from stored
                    told(False)
                    self.log.error(
                        "consumer.batch_failed", error=repr(error), retry_in=backoff.next
                    )
                    backoff.wait(stop)
                    recover = True
                    continue
                if time.monotonic() >= next_lag:
                    self.log_lag()
                    next_lag = time.monotonic() + self.config.lag_interval
                if handled == 0 and until_caught_up and self.caught_up():
                    break
        finally:
            self._close()

    def _join(self, stop: threading.Event) -> bool:
        """Connect and subscribe, retrying with back-off while the broker is away; False if
        told to stop first."""
        backoff = Backoff(self.config.max_backoff)
        while not stop.is_set():
            try:
                self.consumer = self._subscribed(self.consumer_factory(self.config))
                self.log.info("consumer.started", topics=self.config.topics)
                return True
            except (KafkaError, ServiceAway) as error:
                self.log.warning(
                    "consumer.broker_unavailable", error=str(error), retry_in=backoff.next
                )
                backoff.wait(stop)
        return False

    def _subscribed(self, consumer: Any) -> Any:
        """The consumer, subscribed to the topics (closed if that fails)."""
        try:
            # Learn the topics before joining: a group leader whose metadata lacks them assigns
            # nothing, and the group idles until its next metadata refresh.
            for topic in self.config.topics:
                consumer.partitions_for_topic(topic)
            consumer.subscribe(self.config.topics, listener=self.listener)
        except Exception:
            with contextlib.suppress(Exception):
                consumer.close(autocommit=False)
            raise
        return consumer

    def step(self) -> int:
        """Poll once and handle the batch; returns how many records it covered."""
        polled = self.consumer.poll(timeout_ms=self.config.poll_timeout_ms)
        fresh = self._seed()
        batch = {tp: records for tp, records in polled.items() if records and tp not in fresh}
        if batch:
            self.handle(batch)
        return sum(len(records) for records in batch.values())

    def handle(self, batch: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """Decode, wait for the batch in flight, dead-letter the bad, hand the good to the sink
        with the spans; the sink applies them while the loop polls the next batch."""
        good: list[Consumed] = []
        bad: list[DeadLetter] = []
        spans: dict[TopicPartition, Span] = {}
        for tp, records in batch.items():
            spans[tp] = Span(records[0].offset, records[-1].offset + 1)
            for record in records:
                consumed, reason = self._decode(tp, record)
                if consumed is None:
                    bad.append(DeadLetter(record, reason))
                else:
                    good.append(consumed)
        failed = self._settle()
        if failed is not None:  # this batch was read past the stored positions too
            self._rewind({**spans, **failed})
            return
        if bad:
            self.dead_letter(bad)
        future = self._worker.submit(self.sink.apply, good, spans)
        self._inflight = _InFlight(future, spans, len(good))

    def flush(self) -> None:
        """Wait until the batch in flight is applied (or, if it was not, re-read it)."""
        failed = self._settle()
        if failed is not None:
            self._rewind(failed)

    def _settle(self) -> Mapping[TopicPartition, Span] | None:
        """Wait for the batch in flight; returns its spans if the sink refused it (it rejected a
        record or its positions moved), after which it must be read again."""
        inflight, self._inflight = self._inflight, None
        if inflight is None:
            return None
        try:
            applied = inflight.future.result()
        except Rejected as rejection:
            for record, reason in rejection.records:
                where = TopicPartition(record.topic, record.partition)
                self.rejected[(where, record.offset)] = reason
                self.log.warning(
                    "consumer.rejected",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    reason=reason,
                )
            return inflight.spans
        except PositionsMoved as moved:
            self.log.warning("consumer.positions_moved", stored=str(moved))
            return inflight.spans
        self._applied(inflight.spans)
        self.records += inflight.records
        self.batches += 1
        self._count(applied)
        return None

    def _count(self, applied: Applied) -> None:
        if applied.duplicates:
            self.duplicates += applied.duplicates
            self.log.info("consumer.duplicates", skipped=applied.duplicates, total=self.duplicates)
        if applied.gaps:
            self.gaps += applied.gaps
            self.log.warning("consumer.gaps", handled=applied.gaps, total=self.gaps)

    def _recover(self) -> None:
        """After a failure: forget the batch in flight, go back to the stored positions."""
        with contextlib.suppress(Exception):  # it failed or will be read again anyway
            self._settle()
        self._rewind(self.consumer.assignment())

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        """A sink call on the sink's thread, once the batch in flight is settled."""
        self.flush()
        return self._worker.submit(method, *args).result()

    # -- decoding and dead letters -------------------------------------------------------------

    def _decode(self, tp: TopicPartition, record: Any) -> tuple[Consumed | None, str]:
        # Kept until a batch covering it is applied: read again after another rewind, the record
        # must go to the dead-letter topic again rather than back to the sink.
        rejected = self.rejected.get((tp, record.offset))
        if rejected is not None:
            return None, rejected
        try:
            incoming = decode(record.value, record.headers or ())
        except EnvelopeError as error:
            return None, str(error)
        if incoming.notification_id is None:
            return None, "missing or malformed ntd_notification_id header"
        return Consumed(tp.topic, tp.partition, record.offset, incoming), ""

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        """Produce each bad record to the dead-letter topic with the reason; wait for the acks."""
        if self.producer is None:
            self.producer = self.producer_factory(self.config)
        send_dead_letters(self.producer, self.config, letters)
        for letter in letters:
            record = letter.record
            self.log.warning(
                "consumer.dead_lettered",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                reason=letter.reason,
            )
        self.dead_letters += len(letters)

    # -- positions -----------------------------------------------------------------------------

    def _seed(self) -> set[TopicPartition]:
        """Seek newly assigned partitions to the stored positions; returns them (their polled
        records, fetched from wherever Kafka started, are dropped and fetched again)."""
        assigned, revoked = self.listener.take()
        for tp in revoked:
            self.applied.pop(tp, None)
        assigned &= set(self.consumer.assignment())
        if assigned:
            self._seek(assigned, {})
            self.log.info(
                "consumer.assigned",
                partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned),
            )
        return assigned

    def _rewind(self, partitions: Iterable[TopicPartition] | Mapping[TopicPartition, Span]) -> None:
        """After a batch that did not apply: back to the stored positions (else the span start)."""
        starts = (
            {tp: span.start for tp, span in partitions.items()}
            if isinstance(partitions, Mapping)
            else {}
        )
        owned = set(self.consumer.assignment())
        self._seek([tp for tp in partitions if tp in owned], starts)

    def _seek(
        self, partitions: Collection[TopicPartition], fallback: Mapping[TopicPartition, int]
    ) -> None:
        stored = self._call(self.sink.positions, list(partitions)) if partitions else {}
        beginning: dict[TopicPartition, int] | None = None
        for tp in partitions:
            offset = stored.get(tp, fallback.get(tp))
            if offset is None:
                self.consumer.seek_to_beginning(tp)
                self.applied.pop(tp, None)
                continue
            if offset > 0:
                beginning = beginning or self.consumer.beginning_offsets(list(partitions))
                if offset < beginning.get(tp, 0):
                    raise FatalPositions(
                        f"{tp.topic}[{tp.partition}]: stored position {offset} is below the "
                        f"oldest offset the topic still holds ({beginning[tp]}); rebuild with "
                        "`ntd projections rebuild --from store`"
                    )
            self.consumer.seek(tp, offset)
            self.applied[tp] = offset

    def check_positions(self) -> None:
        """While idle, at most once a second: follow stored positions that moved under the loop
        (a rebuild swapped in views at other offsets) by seeking to them."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + POSITION_CHECK_INTERVAL
        owned = [tp for tp in self.consumer.assignment() if tp in self.applied]
        stored = self._call(self.sink.positions, owned) if owned else {}
        moved = [tp for tp in owned if stored.get(tp, 0) != self.applied[tp]]
        if moved:
            self.log.warning(
                "consumer.positions_moved",
                partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in moved),
            )
            self._seek(moved, {})

    def _applied(self, spans: Mapping[TopicPartition, Span]) -> None:
        offsets = {}
        for tp, span in spans.items():
            self.applied[tp] = max(self.applied.get(tp, 0), span.end)
            offsets[tp] = OffsetAndMetadata(span.end, "", -1)
        if self.rejected:  # dead-lettered and passed for good
            self.rejected = {
                (tp, offset): reason
                for (tp, offset), reason in self.rejected.items()
                if tp not in spans or offset >= spans[tp].end
            }
        with contextlib.suppress(KafkaError):  # informational: the sink holds the truth
            self.consumer.commit_async(offsets=offsets)

    # -- lag -----------------------------------------------------------------------------------

    def lag(self) -> dict[TopicPartition, int]:
        """End offset minus applied position, per assigned partition."""
        assigned = list(self.consumer.assignment())
        if not assigned:
            return {}
        ends = self.consumer.end_offsets(assigned)
        return {
            tp: max(ends[tp] - self.applied.get(tp, self.consumer.position(tp)), 0)
            for tp in assigned
        }

    def log_lag(self) -> int:
        """Log the lag of each partition behind and the total; returns the total."""
        try:
            lags = self.lag()
        except KafkaError as error:
            self.log.warning("consumer.lag_unknown", error=str(error))
            return -1
        for tp, behind in sorted(lags.items()):
            if behind:
                self.log.info(
                    "consumer.lag",
                    topic=tp.topic,
                    partition=tp.partition,
                    position=self.applied.get(tp),
                    lag=behind,
                )
        total = sum(lags.values())
        self.log.info(
            "consumer.lag_total",
            lag=total,
            partitions=len(lags),
            records=self.records,
            dead_letters=self.dead_letters,
            duplicates=self.duplicates,
            gaps=self.gaps,
        )
        return total

    def caught_up(self) -> bool:
        """Whether partitions are assigned, nothing is in flight and none has anything left."""
        if self.listener.unseeded or self._inflight is not None:
            return False
        assigned = list(self.consumer.assignment())
        return bool(assigned) and all(behind == 0 for behind in self.lag().values())

    def _close(self) -> None:
        try:
            self.flush()
        except Exception as error:  # not applied: the stored positions make it read again
            self.log.warning("consumer.last_batch_failed", error=repr(error))
        if self.consumer is not None:
            offsets = {tp: OffsetAndMetadata(o, "", -1) for tp, o in self.applied.items()}
            with contextlib.suppress(Exception):  # informational; the group may be gone
                if offsets:
                    self.consumer.commit(offsets=offsets, timeout_ms=1000)
            with contextlib.suppress(Exception):
                self.consumer.close(autocommit=False)
        if self.producer is not None:
            close_producer(self.producer)
        self._worker.shutdown(wait=True)
        self.log.info(
            "consumer.stopped",
            records=self.records,
            batches=self.batches,
            dead_letters=self.dead_letters,
            duplicates=self.duplicates,
        )
