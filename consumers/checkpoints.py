"""Publishing the event store's signed checkpoints to `ntd.checkpoint.v1`: an anchor outside
the database, which whoever holds the store cannot take back."""

from __future__ import annotations

from kafka import KafkaProducer

from consumers.relay import ensure_topics
from consumers.topics import CHECKPOINT_TOPIC


def publish_checkpoint(
    bootstrap: str, partitions: int, prefix: str, key: str, value: bytes
) -> None:
    """Produce one checkpoint (JSON) keyed by its public key, acknowledged by every replica."""
    ensure_topics(bootstrap, partitions, prefix)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        max_block_ms=10_000,
        request_timeout_ms=15_000,
        client_id="ntd-checkpoints",
    )
    try:
        producer.send(prefix + CHECKPOINT_TOPIC, key=key.encode(), value=value).get(timeout=30)
    finally:
        producer.close(timeout=5)
