"""Running the long-lived workers: the service operations behind `ntd relay` (the outbox relay
to Kafka) and `ntd consume NAME` (a consumer of ntd's topics). Each first waits for the broker
to take its topics, then runs until told to stop (or, on request, until caught up)."""

from __future__ import annotations

import threading
from typing import Any

import structlog

from ntd.bootstrap import Ntd, build_consumer, build_relay

log = structlog.get_logger("ntd.workers")


def wait_for_topics(ntd: Ntd, stop: threading.Event, event: str) -> None:
    """Create ntd's topics, retrying with back-off (logged as `event`) while the broker is not
    there yet; returns when they exist or when `stop` is set."""
    from consumers.relay import ensure_topics

    settings = ntd.settings
    backoff = 0.5
    while not stop.is_set():
        try:
            ensure_topics(
                settings.kafka_bootstrap, settings.kafka_partitions, settings.topic_prefix
            )
            return
        except Exception as error:  # the broker may still be starting; wait and retry
            log.warning(event, error=str(error), retry_in=backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)


def run_relay(
    ntd: Ntd, stop: threading.Event, *, until_caught_up: bool = False, **overrides: Any
) -> None:
    """Produce the event store's notification log to Kafka until `stop` (or the head is on
    Kafka, with `until_caught_up`); `overrides` are RelayConfig fields (page_size, …)."""
    wait_for_topics(ntd, stop, "relay.topics_unavailable")
    worker = build_relay(ntd, **overrides)
    signer = threading.Thread(target=_sign_checkpoints, args=(ntd, stop), daemon=True)
    signer.start()
    try:
        worker.run(stop, until_caught_up=until_caught_up)
    finally:
        worker.close()


CHECKPOINT_POLL = 30.0
"""Seconds between the relay's looks at whether a signed checkpoint is due."""


def _sign_checkpoints(ntd: Ntd, stop: threading.Event) -> None:
    """Beside the relay: sign the store's chain every N events or M minutes (ntd.evidence)."""
    from ntd.evidence import checkpoint_if_due

    while not stop.wait(CHECKPOINT_POLL):
        checkpoint_if_due(ntd)


def run_consumer(
    ntd: Ntd, name: str, stop: threading.Event, *, until_caught_up: bool = False, **overrides: Any
) -> None:
    """Consume ntd's topics into the named sink until `stop` (or every assigned partition is
    applied to its end, with `until_caught_up`); `overrides` are LoopConfig fields. An unknown
    name raises `UnknownConsumer` (ntd.bootstrap)."""
    wait_for_topics(ntd, stop, "consumer.topics_unavailable")
    loop = build_consumer(ntd, name, **overrides)
    try:
        loop.run(stop, until_caught_up=until_caught_up)
    finally:
        loop.sink.close()
