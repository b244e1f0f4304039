"""Running the long-lived workers: the service operations behind `ntd relay` (the outbox relay
to Kafka) and `ntd consume NAME` (a consumer of ntd's topics).

A worker never gives up on a service that is away: it connects to the stores and the broker,
and waits for its topics, retrying with capped back-off (each retry logged), then runs until
told to stop (or, on request, until caught up). It answers the stop cue in every state, and
says when it is serving (`Readiness`: a log line, and a file a supervisor's probe can test)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError

from consumers.reach import ATTEMPT_TIMEOUT, Backoff, ServiceAway
from ntd.bootstrap import Ntd, build, build_consumer, build_relay
from ntd.config import Settings

log = structlog.get_logger("ntd.workers")

STORE_AWAY: tuple[type[Exception], ...] = (
    ServiceAway,
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    sqlite3.OperationalError,
    OperationalError,
    InterfaceError,
)
"""What a store that went away (a restarted server, a lock held too long) raises while a
worker uses it: retried on new connections, where any other error is a defect. The relay
adds its encoder's failures (`EncoderLost`: its connection was lost)."""

Made = TypeVar("Made")


class Readiness:
    """Whether a worker is serving: logs `<worker>.ready` and `<worker>.not_ready` when that
    changes, and keeps `path` (if given) present exactly while it is ready."""

    def __init__(self, worker: str, path: Path | None = None, **fields: str) -> None:
        self.worker = worker
        self.path = path
        self.fields = fields
        self.ready: bool | None = None
        self.withdraw()

    def __call__(self, ready: bool) -> None:
        if ready == self.ready:
            return
        self.ready = ready
        if ready:
            if self.path is not None:
                self.path.write_text(f"{os.getpid()}\n")
            where = str(self.path) if self.path else None
            log.info(f"{self.worker}.ready", **self.fields, ready_file=where)
        else:
            log.warning(f"{self.worker}.not_ready", **self.fields)
            self.withdraw()

    def withdraw(self) -> None:
        """Not ready (starting, retrying, stopped): the file is gone."""
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _system(settings: Settings) -> Ntd:
    """ntd for a worker: a connection attempt is short, since the worker retries anyway."""
    return build(settings, connect_timeout=ATTEMPT_TIMEOUT)


def until_made(stop: threading.Event, event: str, make: Callable[[], Made]) -> Made | None:
    """`make()`, retried with capped back-off while a service is away (each retry logged as
    `event`); None if `stop` is set first."""
    from kafka.errors import KafkaError  # here: the CLI imports this module for every command

    backoff = Backoff()
    while not stop.is_set():
        try:
            return make()
        except (ServiceAway, KafkaError, PersistenceError) as error:  # away, or not there yet
            log.warning(event, error=str(error), retry_in=backoff.next)
            backoff.wait(stop)
    return None


def wait_for_topics(ntd: Ntd, stop: threading.Event, event: str) -> bool:
    """Create ntd's topics, retrying with back-off (logged as `event`) while the broker is not
    there yet; False if `stop` is set first."""
    from consumers.topics import ensure_topics

    settings = ntd.settings

    def ensure() -> bool:
        ensure_topics(
            settings.kafka_bootstrap,
            settings.kafka_partitions,
            settings.topic_prefix,
            connect_timeout=ATTEMPT_TIMEOUT,  # short: the stop cue is looked at between tries
        )
        return True

    return until_made(stop, event, ensure) is not None


def run_relay(
    settings: Settings,
    stop: threading.Event,
    *,
    until_caught_up: bool = False,
    ready: Readiness | None = None,
    **overrides: Any,
) -> None:
    """Produce the event store's notification log to Kafka until `stop` (or the head is on
    Kafka, with `until_caught_up`); ntd is built from `settings` (retried while its stores are
    away);
    `overrides` are RelayConfig fields (page_size, …). A store lost while relaying is waited
    for, and the relay goes on from its stored position on new connections."""
    from consumers.relay_pages import EncoderLost  # here: it imports kafka-python (0.1 s)

    lost: tuple[type[Exception], ...] = (*STORE_AWAY, EncoderLost)
    ready = ready or Readiness("relay")
    overrides.setdefault("connect_timeout", ATTEMPT_TIMEOUT)
    ntd = until_made(stop, "relay.store_unavailable", lambda: _system(settings))
    if ntd is None:
        return
    try:
        if not wait_for_topics(ntd, stop, "relay.topics_unavailable"):
            return
        signer = threading.Thread(target=_sign_checkpoints, args=(ntd, stop), daemon=True)
        signer.start()
        backoff = Backoff()
        while not stop.is_set():
            worker = until_made(
                stop, "relay.store_unavailable", lambda: build_relay(ntd, **overrides)
            )
            if worker is None:
                return
            try:
                worker.run(stop, until_caught_up=until_caught_up, ready=ready)
                return
            except lost as error:
                ready(False)
                log.warning("relay.store_unavailable", error=str(error), retry_in=backoff.next)
                backoff.wait(stop)
            finally:
                with contextlib.suppress(*lost):  # its connections may be dead already
                    worker.close()
    finally:
        ready.withdraw()
        ntd.close()


CHECKPOINT_POLL = 30.0
"""Seconds between the relay's looks at whether a signed checkpoint is due."""


def _sign_checkpoints(ntd: Ntd, stop: threading.Event) -> None:
    """Beside the relay: sign the store's chain every N events or M minutes (ntd.evidence)."""
    from ntd.evidence import checkpoint_if_due

    while not stop.wait(CHECKPOINT_POLL):
        try:
            checkpoint_if_due(ntd)
        except Exception as error:  # a store away now, or a chain that fails: try again later
            log.warning("relay.checkpoint_failed", error=str(error)[:200])


def run_consumer(
    settings: Settings,
    name: str,
    stop: threading.Event,
    *,
    until_caught_up: bool = False,
    ready: Readiness | None = None,
    **overrides: Any,
) -> None:
    """Consume ntd's topics into the named sink until `stop` (or every assigned partition is
    applied to its end, with `until_caught_up`); ntd is built from `settings` (retried while
    its stores are away); `overrides` are LoopConfig fields. An unknown name raises
    `UnknownConsumer` (ntd.bootstrap)."""
    ready = ready or Readiness("consumer")
    ntd = until_made(stop, "consumer.store_unavailable", lambda: _system(settings))
    if ntd is None:
        return
    try:
        if not wait_for_topics(ntd, stop, "consumer.topics_unavailable"):
            return
        loop = until_made(
            stop, "consumer.store_unavailable", lambda: build_consumer(ntd, name, **overrides)
        )
        if loop is None:
            return
        try:
            loop.run(stop, until_caught_up=until_caught_up, ready=ready)
        finally:
            loop.sink.close()
    finally:
        ready.withdraw()
        ntd.close()
