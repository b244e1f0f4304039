"""Applying consumed records with per-partition offsets: skips, gaps, rejections, one transaction.

Run once per adapter (memory, SQLite, PostgreSQL) against a seeded history whose published
events are spread over partitions the way the relay keys them (by aggregate id)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.catalog import aggregate_type
from domain.rules import Rules
from domain.values import DomainEvent
from projections import AuditQuery, ReadStore, catch_up
from projections.models import CaseQuery
from projections.tracking import (
    PositionsMoved,
    RecordRejected,
    Span,
    Tracked,
    advanced,
    select,
)
from tests.unit.projection_fixtures import (
    ADAPTERS,
    MARIA,
    History,
    adapter_for,
    build_history,
    opened,
    reporter,
)

pytestmark = pytest.mark.fast

CONSUMER = "projections"
PARTITIONS = 3


@pytest.fixture(scope="module")
def history() -> History:
    return build_history(seed=3, rounds=250)


@pytest.fixture(params=ADAPTERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadStore]:
    yield from opened(adapter_for(request.param, tmp_path))


def as_records(events: Sequence[tuple[int, DomainEvent]]) -> list[Tracked]:
    """Published events as a relay would spread them: topic by aggregate type, partition by
    aggregate id, offsets counted per partition in notification order."""
    next_offset: dict[tuple[str, int], int] = defaultdict(int)
    records = []
    for seq, event in events:
        kind = aggregate_type(type(event))
        if kind is None:
            continue
        where = (f"ntd.{kind}.v1", event.originator_id.int % PARTITIONS)
        records.append(Tracked(where[0], where[1], next_offset[where], seq, event))
        next_offset[where] += 1
    return records


def interleaved(records: Sequence[Tracked]) -> list[Tracked]:
    """Partition by partition, as a poll returns them: notification order is lost."""
    return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))


def spans(records: Sequence[Tracked]) -> dict[tuple[str, int], Span]:
    found: dict[tuple[str, int], list[int]] = defaultdict(list)
    for r in records:
        found[r.where].append(r.offset)
    return {where: Span(min(o), max(o) + 1) for where, o in found.items()}


def batches(records: Sequence[Tracked], size: int) -> Iterator[list[Tracked]]:
    """Consecutive slices of each partition, as successive polls would hand them over."""
    by_partition: dict[tuple[str, int], list[Tracked]] = defaultdict(list)
    for r in records:
        by_partition[r.where].append(r)
    step = 0
    while any(step < len(rs) for rs in by_partition.values()):
        yield [r for rs in by_partition.values() for r in rs[step : step + size]]
        step += size


def views(store: ReadStore, history: History) -> Any:
    """Everything a store answers about the history, positions aside."""
    now = history.clock.now()
    users = [str(reporter(name)) for name in history.notifiers]
    return (
        list(store.audit_query(AuditQuery())),
        store.notifiers(),
        [store.dashboard(n, now, Rules(), users[0]) for n, _ in history.notifiers.values()],
        [
            store.dashboard(n, now - timedelta(days=40), Rules())
            for n, _ in history.notifiers.values()
        ],
        store.due_deadlines(now + timedelta(days=3650)),
        [store.case(c) for c in history.case_ids],
        store.case_list(CaseQuery(viewer=users[1], limit=EVERYTHING)),
        store.queue(CaseQuery(viewer=str(MARIA), limit=EVERYTHING)),
        [store.needs_action(None, user) for user in users],
    )


EVERYTHING = 10**6


# -- the rules, without a store ----------------------------------------------------------------


def record(topic: str, partition: int, offset: int, seq: int) -> Tracked:
    return Tracked(topic, partition, offset, seq, None)  # type: ignore[arg-type]


def test_select_skips_what_lies_below_the_stored_offsets_and_orders_by_notification_id() -> None:
    records = [record("a", 0, 4, 9), record("a", 0, 5, 11), record("b", 1, 7, 10)]
    chosen = select(records, {("a", 0): Span(4, 6), ("b", 1): Span(7, 8)}, {("a", 0): 5})
    assert [(r.topic, r.offset) for r in chosen] == [("b", 7), ("a", 5)]


def test_select_refuses_a_batch_that_starts_beyond_a_stored_offset() -> None:
    with pytest.raises(PositionsMoved) as moved:
        select([record("a", 0, 9, 1)], {("a", 0): Span(9, 10)}, {("a", 0): 5})
    assert moved.value.stored == {("a", 0): 5}
    assert "a[0] at 5" in str(moved.value)


def test_select_takes_any_start_for_a_partition_it_has_no_offset_for() -> None:
    assert len(select([record("a", 2, 40, 1)], {("a", 2): Span(40, 41)}, {})) == 1


def test_select_skips_events_at_or_below_the_watermark() -> None:
    records = [record("a", 0, 0, 5), record("a", 0, 1, 6)]
    chosen = select(records, {("a", 0): Span(0, 2)}, {}, watermark=5)
    assert [r.seq for r in chosen] == [6]


def test_advanced_never_moves_an_offset_backwards() -> None:
    stored = {("a", 0): 10, ("b", 0): 3}
    assert advanced({("a", 0): Span(4, 8), ("b", 0): Span(3, 6), ("c", 1): Span(0, 1)}, stored) == {
        ("b", 0): 6,
        ("c", 1): 1,
    }


# -- every adapter -----------------------------------------------------------------------------


def test_records_applied_in_interleaved_batches_give_the_views_the_log_gives(
    store: ReadStore, history: History
) -> None:
    records = as_records(history.events())
    applied = sum(
        store.apply_tracked(CONSUMER, batch, spans(batch)).events for batch in batches(records, 37)
    )
    reference = adapter_for("memory", Path()).open()
    catch_up(history.app, reference)
    assert applied == len(records)
    assert views(store, history) == views(reference, history)
    assert store.verify_audit().ok
    last = {r.where: r.offset + 1 for r in records}
    assert store.offsets(CONSUMER) == last
    assert store.offsets(CONSUMER, [("ntd.case.v1", 0), ("nowhere", 0)]) == {
        ("ntd.case.v1", 0): last[("ntd.case.v1", 0)]
    }


def test_a_redelivered_batch_changes_nothing_and_an_overlapping_one_applies_only_the_new(
    store: ReadStore, history: History
) -> None:
    records = interleaved(as_records(history.events()))
    first, rest = batches_at(records, 0.6)
    store.apply_tracked(CONSUMER, first, spans(first))
    before = (views(store, history), store.offsets(CONSUMER))

    assert store.apply_tracked(CONSUMER, first, spans(first)).events == 0
    assert (views(store, history), store.offsets(CONSUMER)) == before

    again, _ = batches_at(records, 0.3)
    overlapping = again + rest
    assert store.apply_tracked(CONSUMER, overlapping, spans(overlapping)).events == len(rest)
    assert len(list(store.audit_query(AuditQuery()))) == len(records)
    assert store.verify_audit().ok


def batches_at(records: Sequence[Tracked], share: float) -> tuple[list[Tracked], list[Tracked]]:
    """Each partition cut at the same share of its records: what came before, what after."""
    by_partition: dict[tuple[str, int], list[Tracked]] = defaultdict(list)
    for r in records:
        by_partition[r.where].append(r)
    before, after = [], []
    for rs in by_partition.values():
        cut = int(len(rs) * share)
        before += rs[:cut]
        after += rs[cut:]
    return before, after


def test_a_batch_that_starts_beyond_the_stored_offsets_changes_nothing(
    store: ReadStore, history: History
) -> None:
    records = interleaved(as_records(history.events()))
    first, rest = batches_at(records, 0.5)
    store.apply_tracked(CONSUMER, first, spans(first))
    before = (views(store, history), store.offsets(CONSUMER))
    later = batches_at(rest, 0.5)[1]
    with pytest.raises(PositionsMoved):
        store.apply_tracked(CONSUMER, later, spans(later))
    assert (views(store, history), store.offsets(CONSUMER)) == before


def test_a_record_the_views_cannot_place_is_named_and_nothing_changes(
    store: ReadStore, history: History
) -> None:
    records = as_records(history.events())
    orphan = next(r for r in records if r.event.originator_version > 1 and "case" in r.topic)
    batch = [r for r in records[:50] if r.event.originator_id != orphan.event.originator_id]
    batch.append(orphan)
    with pytest.raises(RecordRejected) as rejected:
        store.apply_tracked(CONSUMER, batch, spans(batch))
    assert rejected.value.record == orphan
    assert "version gap" in rejected.value.reason
    assert "up to version 0" in rejected.value.reason
    assert list(store.audit_query(AuditQuery())) == []
    assert store.offsets(CONSUMER) == {}


def test_records_at_or_below_the_log_watermark_are_skipped(
    store: ReadStore, history: History
) -> None:
    events = history.events()
    half = events[len(events) // 2][0]
    store.apply([(seq, e) for seq, e in events if seq <= half])
    records = as_records(events)
    assert store.apply_tracked(CONSUMER, records, spans(records)).events == sum(
        1 for r in records if r.seq > half
    )
    reference = adapter_for("memory", Path()).open()
    catch_up(history.app, reference)
    assert views(store, history) == views(reference, history)


def test_reset_forgets_the_consumer_offsets_too(store: ReadStore, history: History) -> None:
    records = as_records(history.events())[:20]
    store.apply_tracked(CONSUMER, records, spans(records))
    store.reset()
    assert store.offsets(CONSUMER) == {}
    assert store.position() == 0


# -- events re-sent at new offsets (a relay killed between the broker's ack and its position) ---


def resent(records: Sequence[Tracked], tail: int) -> list[Tracked]:
    """The records followed by their last `tail` again, at the next offsets of their partitions:
    what a relay sends when it is restarted after the broker acknowledged a page it had not yet
    stored its position for."""
    next_offset = {r.where: r.offset + 1 for r in records}
    again = []
    for r in records[-tail:]:
        again.append(Tracked(r.topic, r.partition, next_offset[r.where], r.seq, r.event))
        next_offset[r.where] += 1
    return [*records, *again]


def test_events_re_sent_at_new_offsets_are_skipped_and_counted_in_any_batching(
    store: ReadStore, history: History
) -> None:
    records = as_records(history.events())
    doubled = resent(records, 120)
    outcomes = [
        store.apply_tracked(CONSUMER, batch, spans(batch)) for batch in batches(doubled, 53)
    ]
    assert sum(o.events for o in outcomes) == len(records)
    assert sum(o.duplicates for o in outcomes) == 120
    reference = adapter_for("memory", Path()).open()
    catch_up(history.app, reference)
    assert views(store, history) == views(reference, history)
    assert store.verify_audit().ok
    assert store.offsets(CONSUMER) == {r.where: r.offset + 1 for r in doubled}


def test_a_copy_in_the_same_batch_as_its_original_is_skipped(
    store: ReadStore, history: History
) -> None:
    records = as_records(history.events())
    doubled = resent(records, len(records))
    applied = store.apply_tracked(CONSUMER, doubled, spans(doubled))
    assert (applied.events, applied.duplicates) == (len(records), len(records))
    assert len(list(store.audit_query(AuditQuery()))) == len(records)
    assert store.verify_audit().ok


def test_a_re_sent_first_event_does_not_reset_what_later_events_did(
    store: ReadStore, history: History
) -> None:
    records = as_records(history.events())
    store.apply_tracked(CONSUMER, records, spans(records))
    before = views(store, history)
    filed = next(r for r in records if r.event.originator_version == 1 and "case" in r.topic)
    later = [r for r in records if r.where == filed.where][-1].offset + 1
    copy = [Tracked(filed.topic, filed.partition, later, filed.seq, filed.event)]
    applied = store.apply_tracked(CONSUMER, copy, spans(copy))
    assert (applied.events, applied.duplicates) == (0, 1)
    assert views(store, history) == before


def test_an_event_past_a_missing_version_is_refused_by_name(
    store: ReadStore, history: History
) -> None:
    records = as_records(history.events())
    by_case: dict[Any, list[Tracked]] = defaultdict(list)
    for r in records:
        by_case[r.event.originator_id].append(r)
    long = next(rs for rs in by_case.values() if len(rs) >= 3 and "case" in rs[0].topic)
    batch = [long[0], long[2]]  # version 2 never arrives
    with pytest.raises(RecordRejected) as rejected:
        store.apply_tracked(CONSUMER, batch, spans(batch))
    assert rejected.value.record == long[2]
    assert "up to version 1" in rejected.value.reason
    assert "version 2 never arrived" in rejected.value.reason
    assert list(store.audit_query(AuditQuery())) == []
