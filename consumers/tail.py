"""The reference subscriber: reads ntd's topics and yields each event as a JSON-ready dict."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer

from consumers.envelope import EnvelopeError, decode
from consumers.reach import DEFAULT_CONNECT_TIMEOUT, kafka_client
from consumers.topics import event_topic_names


def tail(
    bootstrap: str,
    prefix: str = "",
    from_beginning: bool = False,
    types: tuple[str, ...] = (),
    stop: threading.Event | None = None,
    idle_timeout: float | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[dict[str, Any]]:
    """Yield events as they arrive (all partitions, no group); `types` filters by ce_type prefix.
    A broker that does not answer within `connect_timeout` seconds raises ServiceAway."""
    consumer = kafka_client(
        KafkaConsumer,
        bootstrap,
        connect_timeout,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        client_id="ntd-tail",
    )
    consumer.subscribe(event_topic_names(prefix))
    idle = 0.0
    try:
        while stop is None or not stop.is_set():
            batches = consumer.poll(timeout_ms=500)
            if not batches:
                idle += 0.5
                if idle_timeout is not None and idle >= idle_timeout:
                    return
                continue
            idle = 0.0
            for records in batches.values():
                for record in records:
                    line = _line(record)
                    if not types or any(line.get("type", "").startswith(t) for t in types):
                        yield line
    finally:
        consumer.close()


def _line(record: Any) -> dict[str, Any]:
    where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
    try:
        incoming = decode(record.value, record.headers)
    except EnvelopeError as error:
        return {**where, "error": str(error)}
    return {
        **where,
        "id": incoming.ce_id,
        "type": incoming.ce_type,
        "subject": str(incoming.event.originator_id),
        "time": incoming.event.timestamp.isoformat(),
        "data": json.loads(record.value),
    }
