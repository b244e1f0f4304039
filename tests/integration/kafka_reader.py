"""An independent reader of ntd's topics, written only against kafka-python and the contract."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cache

from jsonschema import Draft202012Validator
from kafka import KafkaConsumer

from consumers import contracts

TOPICS = ("ntd.case.v1", "ntd.notifier.v1", "ntd.seller.v1")


@dataclass(frozen=True)
class Message:
    """What a downstream subscriber sees of one record."""

    topic: str
    partition: int
    offset: int
    key: str
    headers: dict[str, str]
    value: dict[str, object]


def read_all(bootstrap: str, prefix: str, expected: int, timeout: float = 60.0) -> list[Message]:
    """Every message on the prefixed topics, from the beginning, until `expected` or the timeout."""
    consumer = KafkaConsumer(
        *(prefix + t for t in TOPICS),
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(timeout * 1000),
    )
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000, max_records=5000).values():
                for record in batch:
                    messages.append(
                        Message(
                            topic=record.topic,
                            partition=record.partition,
                            offset=record.offset,
                            key=record.key.decode(),
                            headers={k: v.decode() for k, v in record.headers},
                            value=json.loads(record.value),
                        )
                    )
        # A little longer, to catch anything beyond what was expected.
        for batch in consumer.poll(timeout_ms=1500).values():
            for record in batch:
                messages.append(
                    Message(
                        record.topic,
                        record.partition,
                        record.offset,
                        record.key.decode(),
                        {k: v.decode() for k, v in record.headers},
                        json.loads(record.value),
                    )
                )
    finally:
        consumer.close()
    return messages


@cache
def validator(ce_type: str) -> Draft202012Validator:
    """The JSON Schema validator of one event type, from the contracts ntd ships (read with
    importlib.resources from the consumers.contracts package)."""
    return Draft202012Validator(contracts.schema(ce_type))
