"""Closing a producer whose broker is gone: its network thread must stop anyway."""

from __future__ import annotations

import threading

import pytest
from kafka.errors import KafkaTimeoutError

from consumers.relay import close_producer

pytestmark = pytest.mark.fast


class Sender(threading.Thread):
    """Stands in for kafka-python's network thread: runs until force-closed."""

    def __init__(self) -> None:
        super().__init__(name="ntd-relay-network-thread", daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        self.stopped.wait(30)

    def force_close(self) -> None:
        self.stopped.set()


class StuckProducer:
    """close() raises while records are pending, before stopping its thread (kafka-python)."""

    def __init__(self) -> None:
        self._sender = Sender()
        self._sender.start()
        self.closes: list[float] = []

    def close(self, timeout: float) -> None:
        self.closes.append(timeout)
        if not self._sender.stopped.is_set():
            raise KafkaTimeoutError("Timeout waiting for future")


def test_a_producer_that_cannot_flush_is_closed_and_its_thread_stopped() -> None:
    producer = StuckProducer()

    close_producer(producer)

    assert not producer._sender.is_alive()
    assert producer.closes == [1, 0]


def test_closing_never_raises_even_when_the_producer_is_beyond_repair() -> None:
    class Broken:
        def close(self, timeout: float) -> None:
            raise RuntimeError("gone")

    close_producer(Broken())
