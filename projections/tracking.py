"""Positions by Kafka offsets: which consumed records a store applies, and what it stores after.

A consumer hands a store records with the spans of offsets its batch covered, per partition. The
store, in the transaction that applies them, reads its stored next offsets and

- skips every record below its partition's stored next offset (a redelivered batch changes
  nothing) and every record at or below the log watermark (events already applied from the
  notification log, e.g. by a rebuild from the event store);
- refuses a batch that starts beyond a stored next offset (`PositionsMoved`): the store was
  rebuilt or reset under the consumer, which must re-read from the stored positions;
- stores each span's end as the partition's next offset, never moving one backwards.

Offsets say which *messages* were read; they cannot tell that two messages carry one event. The
relay delivers at least once: killed between the broker's acknowledgement and storing its
position, it sends the unstored tail again, the same events at new offsets. So every reader also
asks `projections.arrival`: how an aggregate's event meets what the reader holds of that aggregate.

Nothing here knows Kafka; a partition is a (topic, partition number) pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from domain.values import DomainEvent
from projections.handlers import ProjectionError, VersionGap, project
from projections.staging import Batch

Partition = tuple[str, int]
"""A topic and a partition number."""


@dataclass(frozen=True, slots=True)
class Tracked:
    """One consumed event: where it was read and its notification id (the audit seq)."""

    topic: str
    partition: int
    offset: int
    seq: int
    event: DomainEvent
    payload: str | None = None
    """The event's JSON as it was read (the message's, without the originator fields), if known."""

    @property
    def where(self) -> Partition:
        """The record's (topic, partition)."""
        return (self.topic, self.partition)


@dataclass(frozen=True, slots=True)
class Span:
    """The offsets [start, end) of one partition that a batch covered, undecodable ones included."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Applied:
    """What a consumed batch did: events applied, re-sent events skipped as duplicates, and
    events handled although an earlier event of their aggregate never arrived (gaps)."""

    events: int = 0
    duplicates: int = 0
    gaps: int = 0


class PositionsMoved(Exception):
    """A batch starts beyond a stored position: re-read from `stored` (next offset by partition)."""

    def __init__(self, stored: Mapping[Partition, int]) -> None:
        self.stored = dict(stored)
        where = ", ".join(f"{t}[{p}] at {o}" for (t, p), o in sorted(self.stored.items()))
        super().__init__(f"stored positions moved: {where}")


class RecordRejected(ProjectionError):
    """Records the views cannot place; the batch is not applied and the records are named."""

    def __init__(self, record: Tracked, reason: str, *more: tuple[Tracked, str]) -> None:
        self.record = record
        self.reason = reason
        self.records: tuple[tuple[Tracked, str], ...] = ((record, reason), *more)
        super().__init__(reason)


def payloads(records: Iterable[Tracked]) -> dict[int, str]:
    """The records' payloads by notification id (see `agreed`)."""
    return agreed((r.seq, r.payload) for r in records)


def agreed(read: Iterable[tuple[int, str | None]]) -> dict[int, str]:
    """Payloads as read, by notification id; a notification id read twice with different JSON
    (or once without) keeps none, so no row takes another event's payload."""
    found: dict[int, str | None] = {}
    for seq, payload in read:
        found[seq] = payload if found.get(seq, payload) == payload else None
    return {seq: payload for seq, payload in found.items() if payload is not None}


def select(
    records: Iterable[Tracked],
    spans: Mapping[Partition, Span],
    stored: Mapping[Partition, int],
    watermark: int = 0,
) -> list[Tracked]:
    """The records still to apply, in notification order; raises PositionsMoved on a gap."""
    moved = {
        where: stored[where]
        for where, span in spans.items()
        if where in stored and span.start > stored[where]
    }
    if moved:
        raise PositionsMoved(moved)
    fresh = [r for r in records if r.offset >= stored.get(r.where, 0) and r.seq > watermark]
    fresh.sort(key=lambda r: r.seq)
    return fresh


def advanced(
    spans: Mapping[Partition, Span], stored: Mapping[Partition, int]
) -> dict[Partition, int]:
    """The next offsets to store: each span's end where it moves its partition forward."""
    return {where: span.end for where, span in spans.items() if span.end > stored.get(where, -1)}


def project_tracked(records: Sequence[Tracked], staged: Batch) -> Applied:
    """Project selected records, in order, into a batch's views; events the views already hold
    (re-sent at new offsets) are skipped and counted.

    Raises RecordRejected naming the first record the views cannot place; or, if that is never
    the case but some events lie past a missing version of their aggregate, naming all of those
    at once (a gap stages nothing, so the pass goes on), so the consumer dead-letters them in
    one round however many there are."""
    staged.prefetch(record.event for record in records)
    applied = duplicates = 0
    gapped: list[tuple[Tracked, str]] = []
    for record in records:
        try:
            if project(record.seq, record.event, staged):
                applied += 1
            else:
                duplicates += 1
        except VersionGap as gap:
            gapped.append((record, str(gap)))
        except ProjectionError as error:
            raise RecordRejected(record, str(error)) from error
    if gapped:
        raise RecordRejected(*gapped[0], *gapped[1:])
    return Applied(applied, duplicates)
