"""Dead letters of the consumer loop (consumers/loop.py).

A record that does not decode, does not validate, lacks `ntd_notification_id`, or is rejected
by the sink is produced to `<prefix>ntd.deadletter.v1` with its key, value and headers plus
`dlq_reason`, `dlq_topic`, `dlq_partition`, `dlq_offset` and `dlq_consumer`, and flushed before
its batch is applied: at least once (dedupe on topic, partition and offset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer

from consumers.loop_config import LoopConfig
from consumers.reach import kafka_client


def make_dead_letter_producer(config: LoopConfig) -> KafkaProducer:
    """An idempotent acks=all producer for dead letters (ServiceAway if the broker does not
    answer within the config's connect timeout)."""
    return kafka_client(
        KafkaProducer,
        config.bootstrap,
        config.connect_timeout,
        acks="all",
        enable_idempotence=True,
        client_id=f"ntd-{config.name}-dlq",
        max_block_ms=10_000,
        request_timeout_ms=15_000,
    )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record bound for the dead-letter topic, and why."""

    record: Any
    reason: str


def send_dead_letters(producer: Any, config: LoopConfig, letters: Sequence[DeadLetter]) -> None:
    """Produce each bad record to the dead-letter topic with the reason; wait for the acks."""
    futures = [
        producer.send(
            config.dead_letter_topic,
            key=letter.record.key,
            value=letter.record.value,
            headers=dead_letter_headers(letter, config.name),
        )
        for letter in letters
    ]
    producer.flush(timeout=config.max_backoff)
    for future in futures:
        future.get(timeout=0)


def dead_letter_headers(letter: DeadLetter, consumer: str) -> list[tuple[str, bytes]]:
    """The record's own headers, then where it was read, why, and by which consumer."""
    record = letter.record
    original = [(k, v if v is not None else b"") for k, v in (record.headers or ())]
    return [
        *original,
        ("dlq_reason", letter.reason.encode()[:4000]),
        ("dlq_topic", record.topic.encode()),
        ("dlq_partition", str(record.partition).encode()),
        ("dlq_offset", str(record.offset).encode()),
        ("dlq_consumer", consumer.encode()),
    ]
