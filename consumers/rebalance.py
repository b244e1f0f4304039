"""The consumer loop's rebalance listener (consumers/loop.py): it only notes which partitions
were assigned and revoked; the loop seeks them to the sink's stored positions itself."""

from __future__ import annotations

import threading
from collections.abc import Collection

from kafka import ConsumerRebalanceListener
from kafka.structs import TopicPartition


class Reseeker(ConsumerRebalanceListener):  # type: ignore[misc]
    """Notes assignments; the loop seeks them from its own thread before using their records.

    kafka-python calls listeners on its IO thread while `poll()` blocks the loop's thread, so
    the listener touches no database (SQLite connections belong to one thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.unseeded: set[TopicPartition] = set()
        self.revoked: set[TopicPartition] = set()

    def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        with self.lock:
            self.unseeded.difference_update(revoked)
            self.revoked.update(revoked)

    def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        with self.lock:
            self.unseeded.update(assigned)

    def take(self) -> tuple[set[TopicPartition], set[TopicPartition]]:
        """The partitions assigned and revoked since the last call."""
        with self.lock:
            taken = (self.unseeded, self.revoked)
            self.unseeded, self.revoked = set(), set()
        return taken
