"""The outbox relay: follows the store's notification log and produces every event to Kafka."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import KafkaProducer
from kafka.errors import KafkaError

from consumers.partitioning import KeyHashPartitioner
from consumers.reach import ATTEMPT_TIMEOUT, Backoff, ServiceAway, kafka_client
from consumers.relay_pages import Pages
from consumers.relay_store import Parked, RelayPositions
from consumers.topics import ensure_topics  # noqa: F401  (re-exported: callers import it here)

log = structlog.get_logger("ntd.relay")

Ready = Callable[[bool], None]
"""Told whether a worker is serving now (connected, publishing or consuming) or not (retrying)."""


@dataclass(frozen=True)
class RelayConfig:
    """Tuning of the relay; defaults favour throughput with bounded latency."""

    bootstrap: str = "127.0.0.1:9092"
    partitions: int = 6
    page_size: int = 2000
    idle_wait: float = 0.01
    lag_interval: float = 10.0
    max_backoff: float = 30.0
    linger_ms: int = 5
    batch_size: int = 512 * 1024
    name: str = "kafka"
    topic_prefix: str = ""
    max_pages_in_flight: int = 8
    encoder_process: bool = False
    """Read and encode the log in a process of its own, so this one only produces."""
    connect_timeout: float = ATTEMPT_TIMEOUT
    """Seconds one attempt to reach the broker may take; the relay retries with back-off."""


def producer_settings(config: RelayConfig) -> dict[str, Any]:
    """Delivery and batching settings: idempotent, acks=all, batches tuned for the relay."""
    return {
        "bootstrap_servers": config.bootstrap,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": config.linger_ms,
        "batch_size": config.batch_size,
        "max_in_flight_requests_per_connection": 5,
        "max_block_ms": 10_000,
        "request_timeout_ms": 15_000,
        "delivery_timeout_ms": 30_000,
        "client_id": "ntd-relay",
    }


def make_producer(config: RelayConfig) -> KafkaProducer:
    """The relay's producer: its settings, and the key-hash partitioner; a broker that does not
    answer within the config's connect timeout raises ServiceAway."""
    settings = producer_settings(config)
    bootstrap = settings.pop("bootstrap_servers")
    return kafka_client(
        KafkaProducer,
        bootstrap,
        config.connect_timeout,
        partitioner=KeyHashPartitioner(),
        **settings,
    )


class Relay:
    """Publishes the notification log in order; the position advances only after acks=all."""

    def __init__(
        self,
        pages: Pages,
        head: Callable[[], int | None],
        positions: RelayPositions,
        config: RelayConfig,
        producer_factory: Callable[[RelayConfig], Any] = make_producer,
    ) -> None:
        self.pages = pages
        self.head = head
        self.positions = positions
        self.config = config
        self.producer_factory = producer_factory
        self.producer: Any = None
        self.position = positions.load(config.name)
        self.sent_up_to = self.position
        self.in_flight: deque[_Page] = deque()
        self.published = 0
        self.parked = 0

    def publish_page(self) -> int:
        """Send the next page without waiting; settle the pages the broker has acknowledged.

        Returns how far the page went in the log (0: caught up). The stored position only ever
        moves to the end of a page whose every message was acknowledged (acks=all), in order."""
        page = self.pages.next(self.sent_up_to + 1, self.config.page_size)
        if page is None:
            self.settle(wait=True)
            return 0
        if self.producer is None:
            self.producer = self.producer_factory(self.config)
        send = self.producer.send
        prefix = self.config.topic_prefix
        counts = self._partition_counts({m.topic for m in page.messages})
        try:
            futures = [  # the partition the default partitioner would pick, hashed ahead
                send(
                    prefix + m.topic,
                    key=m.key,
                    value=m.value,
                    headers=m.headers,
                    partition=m.key_hash % counts[m.topic],
                )
                for m in page.messages
            ]
        except ValueError as error:  # the topic's partitions changed under the page
            raise KafkaError(f"partitions changed: {error}") from error
        last_id, parked = page.last_id, page.parked
        self.in_flight.append(_Page(last_id, futures, parked))
        covered, self.sent_up_to = last_id - self.sent_up_to, last_id
        if len(self.in_flight) >= self.config.max_pages_in_flight:
            for future in self.in_flight[0].futures:  # back-pressure: the oldest page only
                future.get(timeout=self.config.max_backoff)
        self.settle(wait=False)
        return covered

    def _partition_counts(self, topics: set[str]) -> dict[str, int]:
        """How many partitions each topic has now (the producer's metadata; waits for it)."""
        counts = {}
        for topic in topics:
            known = self.producer.partitions_for(self.config.topic_prefix + topic)
            if not known:
                raise KafkaError(f"no partitions known for {self.config.topic_prefix + topic}")
            counts[topic] = len(known)
        return counts

    def settle(self, wait: bool) -> None:
        """Store the position of every leading page whose messages are all acknowledged;
        with `wait`, first wait for everything in flight (when caught up, or stopping)."""
        if wait and self.in_flight and self.producer is not None:
            self.producer.flush(timeout=self.config.max_backoff)
        while self.in_flight:
            page = self.in_flight[0]
            if not all(f.is_done for f in page.futures):
                if wait:
                    raise KafkaError("broker did not acknowledge in time")
                return
            for future in page.futures:
                future.get(timeout=0)  # raises the delivery error, if any
            self.positions.advance(self.config.name, page.last_id, page.parked)
            for item in page.parked:
                log.warning(
                    "relay.parked",
                    notification_id=item.notification_id,
                    topic=item.topic,
                    reason=item.reason,
                )
            self.in_flight.popleft()
            self.position = page.last_id
            self.published += len(page.futures)
            self.parked += len(page.parked)

    def run(
        self, stop: threading.Event, until_caught_up: bool = False, ready: Ready | None = None
    ) -> None:
        """Relay until stopped (or, with until_caught_up, until the log is drained); `ready` is
        told when the broker takes pages, and when it stops taking them."""
        backoff = Backoff(self.config.max_backoff)
        next_lag = time.monotonic()
        log.info("relay.started", position=self.position, bootstrap=self.config.bootstrap)
        while not stop.is_set():
            try:
                sent = self.publish_page()
                backoff.reset()
                if ready is not None:
                    ready(True)
            except (KafkaError, ServiceAway) as error:
                if ready is not None:
                    ready(False)
                log.warning(
                    "relay.broker_unavailable",
                    error=str(error),
                    position=self.position,
                    retry_in=backoff.next,
                )
                self._drop_producer()
                self.in_flight.clear()
                self.sent_up_to = self.position
                backoff.wait(stop)
                continue
            if time.monotonic() >= next_lag:
                self.log_lag()
                next_lag = time.monotonic() + self.config.lag_interval
            if sent == 0:
                if until_caught_up:
                    break
                stop.wait(self.config.idle_wait)
        with contextlib.suppress(KafkaError):
            if self.producer is not None:  # with no producer there is nothing to wait for
                self.settle(wait=True)
        self._drop_producer()
        log.info(
            "relay.stopped", position=self.position, published=self.published, parked=self.parked
        )

    def close(self) -> None:
        """Release the producer (dropping what it still holds: the position was not advanced
        past it), the position store and the page source."""
        self._drop_producer()
        self.positions.close()
        self.pages.close()

    def log_lag(self) -> int:
        """Log store head minus relay position; returns the lag."""
        head = self.head() or 0
        lag = max(head - self.position, 0)
        log.info("relay.lag", head=head, position=self.position, lag=lag)
        return lag

    def _drop_producer(self) -> None:
        if self.producer is not None:
            close_producer(self.producer)
            self.producer = None


def close_producer(producer: Any) -> None:
    """Close a producer, dropping what it could not send. kafka-python's close() raises before
    it stops its network thread while records are pending (the broker is down); that thread
    would live on and send them later, beside the relay's own re-sends. Stop it anyway."""
    try:
        producer.close(timeout=1)
    except Exception:
        sender = getattr(producer, "_sender", None)
        with contextlib.suppress(Exception):
            if sender is not None:
                sender.force_close()  # fails what is pending; the relay re-sends from its position
                sender.join(1)
            producer.close(timeout=0)
        if sender is not None and sender.is_alive():
            log.warning("kafka.producer_thread_left", thread=sender.name)


@dataclass
class _Page:
    """Messages sent for one page of the log, not yet all acknowledged."""

    last_id: int
    futures: list[Any]
    parked: list[Parked]
