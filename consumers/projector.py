"""The projections sink: consumed events become read-model rows, with their offsets, in one
transaction of the read store (PostgreSQL in production, NTD_READ_DSN=postgresql://…)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from consumers.reach import reopening
from consumers.sink import Consumed, Rejected
from projections.store import ReadStore
from projections.tracking import Applied, Partition, RecordRejected, Span, Tracked

NAME = "projections"


class ProjectionSink:
    """Feeds every read model (dashboard, audit trail, deadlines) from a consumer loop."""

    name = NAME

    def __init__(self, store: ReadStore, reopen: Callable[[], ReadStore] | None = None) -> None:
        self.store = store
        self.reopen = reopen
        """Opens the read store anew, after its database connection was lost."""

    def positions(self, partitions: Collection[Partition]) -> dict[Partition, int]:
        """The stored next offset of each given partition that has one."""
        with reopening(self):
            return self.store.offsets(self.name, partitions)

    def apply(self, records: Sequence[Consumed], spans: Mapping[Partition, Span]) -> Applied:
        """Apply the records not applied before, and the spans' ends, in one transaction;
        events the views already hold (re-sent by the relay) are skipped and counted."""
        tracked = [
            Tracked(r.topic, r.partition, r.offset, r.seq, r.event, r.incoming.payload)
            for r in records
        ]
        try:
            with reopening(self):
                return self.store.apply_tracked(self.name, tracked, spans)
        except RecordRejected as rejection:
            where = {(r.topic, r.partition, r.offset): r for r in records}
            refused = [
                (where[(bad.topic, bad.partition, bad.offset)], f"projection: {reason}")
                for bad, reason in rejection.records
            ]
            raise Rejected(*refused[0], *refused[1:]) from rejection

    def close(self) -> None:
        """Close the read store."""
        self.store.close()
