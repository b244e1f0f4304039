"""The relay's partitioner puts every key where kafka-python's (and the Java client's) would."""

from __future__ import annotations

import random
import uuid

import pytest
from kafka.partitioner.default import DefaultPartitioner
from kafka.partitioner.default import murmur2 as reference_murmur2

from consumers.partitioning import KeyHashPartitioner, key_hash, murmur2

pytestmark = pytest.mark.fast


def test_murmur2_matches_the_reference_for_every_length_and_tail() -> None:
    rng = random.Random(7)
    for length in range(0, 80):
        for _ in range(25):
            data = bytes(rng.randrange(256) for _ in range(length))
            assert murmur2(data) & 0x7FFFFFFF == reference_murmur2(data) & 0x7FFFFFFF


class _Cluster:
    """The three metadata questions a partitioner asks."""

    def __init__(self, partitions: int) -> None:
        self.partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"ntd.case.v1"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions


def test_keys_go_to_the_partition_the_default_partitioner_chooses() -> None:
    ours, default = KeyHashPartitioner(), DefaultPartitioner()
    for partitions in (1, 3, 6):
        cluster = _Cluster(partitions)
        for _ in range(300):
            key = str(uuid.uuid4()).encode()
            expected = default.partition("ntd.case.v1", key, key, None, None, cluster)
            assert ours.partition("ntd.case.v1", key, key, None, None, cluster) == expected
            assert key_hash(key) % partitions == expected  # the relay's explicit choice
