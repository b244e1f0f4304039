"""Where a keyed message goes: Kafka's default choice (murmur2 of the key, modulo the topic's
partition count), the same in the Java client and kafka-python, so any client agrees on where a
case's events live."""

from __future__ import annotations

import struct
from typing import Any

from kafka.partitioner import DefaultPartitioner
from kafka.partitioner.abc import Partitioner


def murmur2(data: bytes) -> int:
    """Kafka's key hash (the Java client's `Utils.murmur2`), as an unsigned 32-bit value."""
    m = 0x5BD1E995
    length = len(data)
    h = 0x9747B28C ^ length
    whole = length & ~3
    for k in struct.unpack_from(f"<{length >> 2}I", data):
        k = (k * m) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    extra = length & 3
    if extra >= 3:
        h ^= data[whole + 2] << 16
    if extra >= 2:
        h ^= data[whole + 1] << 8
    if extra >= 1:
        h = ((h ^ data[whole]) * m) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * m) & 0xFFFFFFFF
    return h ^ (h >> 15)


def key_hash(key: bytes) -> int:
    """The key's hash as the default partitioner uses it: partition = key_hash % partitions."""
    return murmur2(key) & 0x7FFFFFFF


class KeyHashPartitioner(Partitioner):
    """The default partitioner's choice (murmur2 of the key over the sorted partitions, the same
    as the Java client's), computed with a fraction of the pure-Python work per record."""

    def __init__(self) -> None:
        self.sorted: dict[str, tuple[int, list[int]]] = {}

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: Any,
        cluster: Any,
    ) -> int:
        if serialized_key is None:
            return self.fallback.partition(
                topic, key, serialized_key, value, serialized_value, cluster
            )
        known = cluster.partitions_for_topic(topic)
        if known is None:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        cached = self.sorted.get(topic)
        if cached is None or cached[0] != len(known):
            cached = self.sorted[topic] = (len(known), sorted(known))
        partitions = cached[1]
        return partitions[key_hash(serialized_key) % len(partitions)]

    fallback = DefaultPartitioner()
