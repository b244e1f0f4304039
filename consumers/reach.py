"""Reaching the services ntd depends on (Kafka, PostgreSQL): how long one connection attempt may
take, and `ServiceAway`, the error that names the service that did not answer, where it was
looked for and the variable that points there.

A one-shot command waits one connect timeout (NTD_CONNECT_TIMEOUT, ntd/services.py) and says
which service is away; a long-running worker (ntd/workers.py) retries with back-off instead."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg2

DEFAULT_CONNECT_TIMEOUT = 10
"""Seconds a one-shot command waits for a service before it says the service is away."""

ATTEMPT_TIMEOUT = 2.0
"""Seconds a worker's one attempt to reach the broker may take before it retries: short, so a
worker that is connecting still answers SIGTERM at once (a client's bootstrap does not look at
the stop cue)."""

MAX_BACKOFF = 30.0
"""The longest wait between two attempts to reach a service."""

Client = TypeVar("Client")


@dataclass
class Backoff:
    """The waits between a worker's retries: 0.5 s, doubling up to `cap`, from the start again
    after a success."""

    cap: float = MAX_BACKOFF
    first: float = 0.5
    next: float = field(init=False)
    """The wait before the next retry (logged as `retry_in`)."""

    def __post_init__(self) -> None:
        self.next = self.first

    def wait(self, stop: threading.Event) -> None:
        """Wait before the next retry (or until `stop`), and make the one after longer."""
        stop.wait(self.next)
        self.next = min(self.next * 2, self.cap)

    def reset(self) -> None:
        """After a success: the next failure waits the shortest again."""
        self.next = self.first


class ServiceAway(Exception):
    """Kafka or PostgreSQL did not answer; the message says which, where, and what points there."""


def kafka_options(timeout: float) -> dict[str, Any]:
    """kafka-python options that bound how long a client waits for the broker: its constructor
    bootstraps (30 s by default) and, with no broker, nothing else would end the wait."""
    return {"bootstrap_timeout_ms": max(int(timeout * 1000), 100)}


def kafka_client(
    make: Callable[..., Client], bootstrap: str, timeout: float, **options: Any
) -> Client:
    """A Kafka client (consumer, producer, admin) made with `options` and bounded waits; a broker
    that does not answer within `timeout` seconds raises ServiceAway."""
    # imported here: every command imports this module, few talk to Kafka (kafka-python
    # costs 0.1 s to import)
    from kafka.errors import KafkaError

    try:
        with _quiet("kafka"):
            return make(bootstrap_servers=bootstrap, **options, **kafka_options(timeout))
    except KafkaError as error:
        raise kafka_away(bootstrap, timeout, error) from error


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Silence a library's logger below CRITICAL for a while: while a client bootstraps, a
    refused connection is logged by kafka-python at every attempt (a dozen lines in 2 s), which
    would bury the one line that says the broker is away (or the worker's own retry line)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def kafka_away(bootstrap: str, timeout: float, error: BaseException) -> ServiceAway:
    """The ServiceAway of a broker that did not answer."""
    return ServiceAway(
        f"Kafka at {bootstrap} (NTD_KAFKA_BOOTSTRAP) did not answer within {timeout:g} s "
        f"({type(error).__name__})"
    )


def with_connect_timeout(dsn: str, timeout: float) -> str:
    """A postgresql:// URL that makes libpq give up connecting after `timeout` seconds (unless
    the URL sets connect_timeout itself); other DSNs are returned as they are."""
    url = urlsplit(dsn)
    if url.scheme not in ("postgresql", "postgres"):
        return dsn
    query = dict(parse_qsl(url.query))
    query.setdefault("connect_timeout", str(max(int(timeout), 1)))  # libpq: whole seconds, ≥ 1
    return urlunsplit(url._replace(query=urlencode(query)))


def where(dsn: str) -> str:
    """host:port/database of a DSN, without the user or password."""
    url = urlsplit(dsn)
    return f"{url.hostname or 'localhost'}:{url.port or 5432}{url.path or ''}"


@contextmanager
def reaching_postgres(dsn: str, variable: str) -> Iterator[None]:
    """Connections opened inside that fail become ServiceAway naming `variable` (the DSN's
    host, port and database; never its password)."""
    try:
        yield
    except psycopg2.OperationalError as error:
        reason = (str(error).strip().splitlines() or ["no reason given"])[0]
        raise ServiceAway(
            f"PostgreSQL at {where(dsn)} ({variable}) cannot be used: {reason}"
        ) from error


CONNECTION_LOST = (psycopg2.OperationalError, psycopg2.InterfaceError)
"""What PostgreSQL raises on a connection that was cut (a restarted server) or is closed."""


class Reopenable(Protocol):
    """A sink whose store can be opened anew."""

    store: Any
    reopen: Callable[[], Any] | None


@contextmanager
def reopening(sink: Reopenable) -> Iterator[None]:
    """Inside: a lost database connection closes the sink's store and opens it anew (when the
    sink knows how), and the error goes on to the loop, which retries from the stored
    positions on the new connection. Without it, a consumer would retry on the dead connection
    for ever after the database restarted."""
    try:
        yield
    except CONNECTION_LOST:
        if sink.reopen is not None:
            with contextlib.suppress(Exception):  # it is dead already
                sink.store.close()
            sink.store = sink.reopen()  # ServiceAway if the database is not back yet
        raise
