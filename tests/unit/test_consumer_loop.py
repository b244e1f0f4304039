"""The consumer loop's decisions, without a broker: what is applied, dead-lettered, re-read.

The loop talks to a stand-in consumer and producer that only record calls; the sink is the real
projections sink over the in-memory read store. The broker itself is exercised in
tests/integration/test_consumers.py."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from kafka.structs import TopicPartition
from structlog.testing import LogCapture

from consumers.envelope import encode
from consumers.loop import ConsumerLoop, FatalPositions
from consumers.loop_config import LoopConfig
from consumers.projector import ProjectionSink
from consumers.sink import Consumed, Rejected
from domain.mapping import event_payload
from domain.values import DomainEvent, RightType
from projections import AuditQuery
from projections.memory import MemoryReadStore
from projections.tracking import Applied, Partition, PositionsMoved, Span
from tests.unit.projection_fixtures import ALICE, History, build_history

pytestmark = pytest.mark.fast

CASES = TopicPartition("ntd.case.v1", 0)
NOTIFIERS = TopicPartition("ntd.notifier.v1", 0)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


@dataclass
class StandInConsumer:
    """Records what the loop asks of a KafkaConsumer."""

    owned: set[TopicPartition] = field(default_factory=lambda: {CASES, NOTIFIERS})
    seeks: list[tuple[TopicPartition, int | None]] = field(default_factory=list)
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    oldest: int = 0
    end: int = 0

    def assignment(self) -> set[TopicPartition]:
        return set(self.owned)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def seek_to_beginning(self, tp: TopicPartition) -> None:
        self.seeks.append((tp, None))

    def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, self.oldest)

    def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, self.end)

    def position(self, tp: TopicPartition) -> int:
        return self.end

    def commit_async(self, offsets: Mapping[TopicPartition, Any]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})


@dataclass
class StandInProducer:
    sent: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = field(default_factory=list)

    def send(self, topic: str, key: Any, value: Any, headers: Any) -> Any:
        self.sent.append((topic, value, headers))
        return _Done()

    def flush(self, timeout: float) -> None:
        pass


class _Done:
    def get(self, timeout: float) -> None:
        return None


@pytest.fixture(scope="module")
def history() -> History:
    return build_history(seed=6, rounds=80)


def records_of(history: History) -> dict[TopicPartition, list[Record]]:
    """The history's published events as records: cases on one partition, notifiers on another."""
    found: dict[TopicPartition, list[Record]] = {CASES: [], NOTIFIERS: []}
    for seq, event in history.events():
        message = encode(event, seq)  # type: ignore[arg-type]
        if message is None or message.topic not in (CASES.topic, NOTIFIERS.topic):
            continue
        tp = CASES if message.topic == CASES.topic else NOTIFIERS
        found[tp].append(
            Record(tp.topic, 0, len(found[tp]), message.key, message.value, message.headers)
        )
    return found


def loop_over(store: MemoryReadStore, consumer: StandInConsumer | None = None) -> ConsumerLoop:
    loop = ConsumerLoop(LoopConfig(name="projections", topic_prefix="x."), ProjectionSink(store))
    loop.consumer = consumer or StandInConsumer()
    loop.producer = StandInProducer()
    return loop


def test_a_batch_is_applied_with_its_spans_and_then_committed_to_kafka(history: History) -> None:
    store = MemoryReadStore()
    loop = loop_over(store)
    batch = {tp: rs[:25] for tp, rs in records_of(history).items()}

    loop.handle(batch)
    loop.flush()

    ends = {CASES: 25, NOTIFIERS: len(batch[NOTIFIERS])}
    assert store.offsets("projections") == ends
    assert loop.consumer.commits == [ends]
    assert loop.applied == ends
    assert len(list(store.audit_query(AuditQuery()))) == sum(ends.values()) == loop.records


def test_undecodable_records_are_dead_lettered_with_the_reason_and_skipped(
    history: History,
) -> None:
    store = MemoryReadStore()
    loop = loop_over(store)
    good = records_of(history)[CASES][:5]
    garbage = Record(CASES.topic, 0, 5, b"k", b"\x00garbage", [("ce_type", b"x")])
    no_id = Record(CASES.topic, 0, 6, good[0].key, good[0].value, good[0].headers[:-1])
    superscript = [*good[0].headers[:-1], ("ntd_notification_id", "²".encode())]  # isdigit()
    odd_id = Record(CASES.topic, 0, 7, good[0].key, good[0].value, superscript)

    loop.handle({CASES: [*good, garbage, no_id, odd_id]})
    loop.flush()

    sent = loop.producer.sent
    assert [topic for topic, _, _ in sent] == ["x.ntd.deadletter.v1"] * 3
    assert sent[0][1] == b"\x00garbage"
    headers = dict(sent[0][2])
    assert headers["ce_type"] == b"x"
    assert headers["dlq_reason"].startswith(b"missing CloudEvents header")
    assert (headers["dlq_topic"], headers["dlq_partition"], headers["dlq_offset"]) == (
        b"ntd.case.v1",
        b"0",
        b"5",
    )
    assert dict(sent[1][2])["dlq_reason"] == b"missing or malformed ntd_notification_id header"
    assert dict(sent[2][2])["dlq_reason"] == b"missing or malformed ntd_notification_id header"
    assert store.offsets("projections") == {("ntd.case.v1", 0): 8}
    assert loop.dead_letters == 3 and loop.records == 5


class PickySink:
    """Rejects one offset, or reports moved positions, then behaves."""

    name = "picky"

    def __init__(self, reject: int | None = None, moved: bool = False) -> None:
        self.reject = reject
        self.moved = moved
        self.stored: dict[Partition, int] = {}
        self.applied: list[list[int]] = []

    def positions(self, partitions: Collection[Partition]) -> dict[Partition, int]:
        return {p: self.stored[p] for p in partitions if p in self.stored}

    def apply(self, records: Sequence[Consumed], spans: Mapping[Partition, Span]) -> Applied:
        if self.moved:
            self.moved = False
            self.stored = {("ntd.case.v1", 0): 2}
            raise PositionsMoved(self.stored)
        for record in records:
            if record.offset == self.reject:
                raise Rejected(record, "cannot place it")
        self.applied.append([r.offset for r in records])
        self.stored.update({p: s.end for p, s in spans.items()})
        return Applied(len(records))

    def close(self) -> None:
        pass


def picky_loop(sink: PickySink) -> ConsumerLoop:
    loop = ConsumerLoop(LoopConfig(name="picky"), sink)
    loop.consumer = StandInConsumer()
    loop.producer = StandInProducer()
    return loop


def test_a_rejected_record_is_dead_lettered_when_read_again_and_the_rest_applied(
    history: History,
) -> None:
    sink = PickySink(reject=3)
    loop = picky_loop(sink)
    batch = {CASES: records_of(history)[CASES][:6]}

    loop.handle(batch)
    loop.flush()
    assert sink.applied == [] and loop.consumer.seeks == [(CASES, 0)]

    loop.handle(batch)
    loop.flush()
    assert sink.applied == [[0, 1, 2, 4, 5]]
    assert dict(loop.producer.sent[0][2])["dlq_reason"] == b"cannot place it"


def test_moved_positions_send_the_loop_back_to_the_stored_offsets(history: History) -> None:
    sink = PickySink(moved=True)
    loop = picky_loop(sink)
    loop.handle({CASES: records_of(history)[CASES][5:9]})
    loop.flush()
    assert sink.applied == [] and loop.consumer.seeks == [(CASES, 2)]
    assert loop.applied == {CASES: 2}


def test_newly_assigned_partitions_start_at_the_stored_offsets_or_the_beginning() -> None:
    sink = PickySink()
    sink.stored = {("ntd.case.v1", 0): 12}
    loop = picky_loop(sink)
    loop.listener.on_partitions_assigned([CASES, NOTIFIERS])

    fresh = loop._seed()

    assert fresh == {CASES, NOTIFIERS}
    assert sorted(loop.consumer.seeks, key=str) == sorted([(CASES, 12), (NOTIFIERS, None)], key=str)


def test_stored_offsets_below_what_the_topic_still_holds_stop_the_consumer() -> None:
    sink = PickySink()
    sink.stored = {("ntd.case.v1", 0): 12}
    loop = picky_loop(sink)
    loop.consumer.oldest = 50
    loop.listener.on_partitions_assigned([CASES])
    with pytest.raises(FatalPositions, match="rebuild"):
        loop._seed()


def test_an_idle_loop_follows_stored_offsets_that_moved_under_it() -> None:
    sink = PickySink()
    loop = picky_loop(sink)
    loop.applied = {CASES: 40, NOTIFIERS: 7}
    sink.stored = {("ntd.case.v1", 0): 25, ("ntd.notifier.v1", 0): 7}

    loop.check_positions()

    assert loop.consumer.seeks == [(CASES, 25)]
    assert loop.applied == {CASES: 25, NOTIFIERS: 7}


def test_consumed_records_carry_the_event_and_its_notification_id(history: History) -> None:
    record = records_of(history)[CASES][0]
    loop = loop_over(MemoryReadStore())
    consumed, reason = loop._decode(CASES, record)
    assert consumed is not None and reason == ""
    assert isinstance(consumed.event, DomainEvent)
    assert consumed.seq == int(dict(record.headers)["ntd_notification_id"])
    assert consumed.incoming.payload == event_payload(consumed.event).decode()


def test_the_audit_rows_keep_the_payloads_the_messages_carried(history: History) -> None:
    store = MemoryReadStore()
    loop = loop_over(store)
    batch = records_of(history)
    marked = batch[CASES][0]  # the same JSON as the relay writes it, with a space pydantic omits
    batch[CASES][0] = Record(**{**vars(marked), "value": marked.value.replace(b"}", b" }", 1)})

    loop.handle(batch)
    loop.flush()

    rows = {row.event_id: row.payload for row in store.audit_query(AuditQuery())}
    first = loop._decode(CASES, batch[CASES][0])[0]
    second = loop._decode(CASES, batch[CASES][1])[0]
    assert first is not None and second is not None
    assert " }" in rows[first.incoming.ce_id]
    assert rows[first.incoming.ce_id] != event_payload(first.event).decode()
    assert rows[second.incoming.ce_id] == event_payload(second.event).decode()


def test_a_batch_refused_while_the_next_was_read_sends_both_back_to_the_stored_offsets(
    history: History,
) -> None:
    sink = PickySink(reject=3)
    loop = picky_loop(sink)
    cases = records_of(history)[CASES]
    notifiers = records_of(history)[NOTIFIERS]

    loop.handle({CASES: cases[:6]})
    loop.handle({CASES: cases[6:9], NOTIFIERS: notifiers[:4]})

    assert sink.applied == []
    assert sorted(loop.consumer.seeks, key=str) == sorted([(CASES, 0), (NOTIFIERS, 0)], key=str)
    assert loop._inflight is None


def test_partitions_are_dealt_to_workers_in_shares_of_about_equal_size() -> None:
    from consumers.replay import TopicReplay, shards

    replay = TopicReplay("unused")
    sizes = {("c", 0): 900, ("c", 1): 500, ("c", 2): 450, ("n", 0): 30, ("s", 0): 0}
    for (topic, number), size in sizes.items():
        tp = TopicPartition(topic, number)
        replay.starts[tp], replay.ends[tp] = 10, 10 + size

    dealt = shards(replay, 2)

    assert [sorted((t, p) for t, p, _, _ in shard) for shard in dealt] == [
        [("c", 0), ("n", 0)],
        [("c", 1), ("c", 2)],
    ]
    assert all(start == 10 for shard in dealt for _, _, start, _ in shard)


def test_events_the_sink_already_held_are_counted_and_logged_not_rejected(
    history: History,
) -> None:
    store = MemoryReadStore()
    loop = loop_over(store)
    records = records_of(history)[CASES][:8]
    again = [
        Record(r.topic, r.partition, 8 + i, r.key, r.value, r.headers)
        for i, r in enumerate(records)
    ]
    capture = LogCapture()  # the loop's own log, whatever another test configured globally
    loop.log = structlog.wrap_logger(
        structlog.PrintLogger(), processors=[capture], wrapper_class=structlog.BoundLogger
    )
    logs = capture.entries
    loop.handle({CASES: records})
    loop.handle({CASES: again})
    loop.flush()
    loop.log_lag()
    assert loop.duplicates == 8 and loop.dead_letters == 0
    assert [e["skipped"] for e in logs if e["event"] == "consumer.duplicates"] == [8]
    assert [e["duplicates"] for e in logs if e["event"] == "consumer.lag_total"] == [8]
    assert store.offsets("projections") == {("ntd.case.v1", 0): 16}


def test_events_past_a_missing_one_are_dead_lettered_in_one_round_and_the_rest_goes_on() -> None:
    history = build_history(seed=6, rounds=40)
    notifier_id = history.notifiers["Acme"][0]
    for n in range(6):
        history.app.register_right(
            notifier_id, RightType.TRADEMARK, f"TM-x{n}", "eu", "d" * 64, ALICE
        )
    events = [(seq, e) for seq, e in history.events() if encode(e, seq) is not None]
    last = max(e.originator_version for _, e in events if e.originator_id == notifier_id)
    missing = last - 5  # the first of six new rights never reaches Kafka: 5 events lie past it
    records: list[Record] = []
    for seq, event in events:
        if event.originator_id == notifier_id and event.originator_version == missing:
            continue
        message = encode(event, seq)
        records.append(
            Record(CASES.topic, 0, len(records), message.key, message.value, message.headers)
        )
    store = MemoryReadStore()
    loop = loop_over(store)
    rounds = 0
    while store.offsets("projections").get((CASES.topic, 0), 0) < len(records) and rounds < 5:
        start = store.offsets("projections").get((CASES.topic, 0), 0)
        loop.handle({CASES: records[start:]})
        loop.flush()
        rounds += 1
    assert store.offsets("projections") == {(CASES.topic, 0): len(records)}
    assert rounds == 2  # one round names every gapped event, the next dead-letters them
    assert loop.dead_letters == 5
    assert [dict(h)["dlq_reason"][:23] for _, _, h in loop.producer.sent] == [
        b"projection: version gap"
    ] * 5
    assert len(list(store.audit_query(AuditQuery()))) == len(records) - 5
