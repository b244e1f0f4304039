"""What a consumer's sink is: the records it is handed (`Consumed`), how it refuses one
(`Rejected`), and the `Sink` protocol with its contract. The loop that drives a sink is
consumers/loop.py.

Writing a sink (e.g. consumers/policies.py) means implementing `Sink`:

    class MySink:
        name = "policies"                                    # stored with the positions

        def positions(self, partitions) -> dict[Partition, int]:
            # the stored next offset of each given (topic, partition) that has one; the loop
            # seeks there when partitions are assigned (others start at the beginning)

        def apply(self, records: Sequence[Consumed], spans: Mapping[Partition, Span]) -> Applied:
            # ONE database transaction:
            #   stored = your positions, read (and locked) inside the transaction
            #   todo = projections.tracking.select(tracked records, spans, stored)
            #          -> skips records below stored offsets (a redelivered batch changes
            #             nothing); raises PositionsMoved if a span starts beyond a stored
            #             offset (your state was rebuilt or reset under the loop)
            #   for each of todo: projections.arrival.arrival(its version, the version you
            #          hold of its aggregate) -> DUPLICATE: an event re-sent at a new offset,
            #          skip and count it (never reject it); GAP: an earlier event is missing
            #   apply the rest, then store projections.tracking.advanced(spans, stored)
            #   return Applied(events applied, duplicates skipped)
            # raise Rejected(record, reason, *more) to dead-letter records and retry without them

        def close(self) -> None: ...

`ntd consume NAME` finds its sink through ntd.bootstrap.build_sink (the composition root).
Calls to a sink come one at a time from one thread (not the thread that built it): `apply` of
one batch runs while the loop polls and decodes the next, and every other call waits until that
`apply` has returned.

The loop's promises to a sink: records arrive decoded and validated (`Consumed.event` is the
domain event, `Consumed.seq` its notification id), in offset order per partition, each batch
with the span of offsets it covered per partition, undecodable records included (they went to
the dead-letter topic first; see consumers/dead_letters.py). Nothing is committed to Kafka before
`apply` returned; Kafka's committed offsets are informational (lag tools), the sink's stored
positions are the truth.

Rebalances: on assignment the loop seeks each new partition to the sink's stored position (or
the beginning) before handing on any of its records. After any failure of `apply` it seeks every
partition of the batch back to the stored positions and retries with back-off, so a crash, a
rebuild under a running consumer, or a zombie member after a rebalance loses and doubles nothing.
While idle it checks once a second that the stored positions are still its own and follows
them if not (a rebuild swapped in views at other offsets).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from consumers.envelope import Incoming
from domain.values import DomainEvent
from projections.tracking import Applied, Partition, Span


@dataclass(frozen=True, slots=True)
class Consumed:
    """A decoded record and where it was read."""

    topic: str
    partition: int
    offset: int
    incoming: Incoming

    @property
    def event(self) -> DomainEvent:
        """The domain event."""
        return self.incoming.event

    @property
    def seq(self) -> int:
        """The event's notification id in the store (the loop guarantees there is one)."""
        return self.incoming.notification_id or 0


class Rejected(Exception):
    """Raised by a sink: these records cannot be applied; dead-letter them, apply the rest."""

    def __init__(self, record: Consumed, reason: str, *more: tuple[Consumed, str]) -> None:
        self.record = record
        self.reason = reason
        self.records: tuple[tuple[Consumed, str], ...] = ((record, reason), *more)
        """Every record refused, with its reason (the first is `record`)."""
        super().__init__(reason)


class Sink(Protocol):
    """Where a consumer's batches go; see the module docstring for the contract."""

    name: str

    def positions(self, partitions: Collection[Partition]) -> dict[Partition, int]:
        """The stored next offset of each given partition that has one."""
        ...

    def apply(self, records: Sequence[Consumed], spans: Mapping[Partition, Span]) -> Applied:
        """Apply the batch and store the spans' ends, in one transaction; say what it did."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
