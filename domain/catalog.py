"""The published event catalogue: which events leave the store, and the names they travel under."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from eventsourcing.utils import get_topic

from domain.access import AccessSetUp, Principal
from domain.case import Case
from domain.chain_override import ChainOverride
from domain.listing_claim import ListingClaim
from domain.notice import ClientNotice
from domain.notifier import Notifier
from domain.seller import Seller
from domain.token import Token
from domain.values import CorruptEvent, DomainEvent, EventSourced

PUBLISHED: dict[str, type[EventSourced]] = {"case": Case, "notifier": Notifier, "seller": Seller}
"""Aggregate types whose events are published; listing claims and the records of client
notice ids are internal bookkeeping, who holds which role is read through the application
service (`ntd access list`), and tokens are credentials."""

INTERNAL: tuple[type[EventSourced], ...] = (
    ListingClaim,
    ClientNotice,
    Principal,
    AccessSetUp,
    Token,
    ChainOverride,
)
"""Aggregate types whose events stay in the store."""

_AGGREGATE_TYPE = {cls: name for name, cls in PUBLISHED.items()}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def event_classes() -> Iterator[type[DomainEvent]]:
    """Every concrete published event class, aggregate by aggregate, in declaration order."""
    for aggregate in PUBLISHED.values():
        for value in vars(aggregate).values():
            if (
                isinstance(value, type)
                and issubclass(value, DomainEvent)
                and value.__name__ not in {"Event", "Created", "Transitioned"}
            ):
                yield value


def internal_topics() -> list[str]:
    """The stored topics of events that are never published (readers may skip them in SQL)."""
    return [
        get_topic(value)
        for aggregate in INTERNAL
        for value in vars(aggregate).values()
        if isinstance(value, type) and issubclass(value, DomainEvent)
    ]


@functools.cache
def _classes_by_topic() -> dict[str, type[DomainEvent]]:
    return {
        get_topic(value): value
        for aggregate in (*PUBLISHED.values(), *INTERNAL)
        for value in vars(aggregate).values()
        if isinstance(value, type) and issubclass(value, DomainEvent)
    }


def register(aggregate: type[EventSourced]) -> None:
    """Add an aggregate type's events to the catalogue a stored topic is resolved against (a
    test's own aggregate; ntd's are in PUBLISHED and INTERNAL)."""
    for value in vars(aggregate).values():
        if isinstance(value, type) and issubclass(value, DomainEvent):
            _classes_by_topic()[get_topic(value)] = value


def event_class(stored_topic: str) -> type[DomainEvent]:
    """The event class a stored topic names, looked up in ntd's own catalogue only: a topic in
    the store never decides which module is imported (`this:x` would run `import this`).
    CorruptEvent for a topic that names no event of ntd."""
    found = _classes_by_topic().get(stored_topic)
    if found is None:
        shown = stored_topic if len(stored_topic) <= 80 else stored_topic[:80] + "…"
        raise CorruptEvent(f"stored topic {shown!r} names no event of ntd")
    return found


@functools.cache
def is_published(stored_topic: str) -> bool:
    """Whether events stored under this topic leave the store (CorruptEvent if it names no
    event of ntd)."""
    return aggregate_type(event_class(stored_topic)) is not None


def aggregate_type(event_class: type[Any]) -> str | None:
    """`case`, `notifier` or `seller` for published events; None for internal ones."""
    outer = event_class.__qualname__.split(".")[0]
    for cls, name in _AGGREGATE_TYPE.items():
        if cls.__name__ == outer and cls.__module__ == event_class.__module__:
            return name
    return None


def event_type(event_class: type[Any]) -> str:
    """The event's name as data: `TakenDown` is `taken_down`."""
    return _snake(event_class.__name__)


def ce_type(event_class: type[Any]) -> str:
    """The CloudEvents type, e.g. `ntd.case.taken_down.v1`."""
    version = getattr(event_class, "class_version", 1)
    return f"ntd.{aggregate_type(event_class)}.{event_type(event_class)}.v{version}"


def topic_for(aggregate: str) -> str:
    """The Kafka topic of an aggregate type, e.g. `ntd.case.v1`."""
    return f"ntd.{aggregate}.v1"


def resolve_ce_type(name: str) -> tuple[type[DomainEvent], int]:
    """The event class a CloudEvents type name names, and the version the name states (a
    message written before the class evolved states an older one); KeyError if not ntd's."""
    base, marker, number = name.rpartition(".v")
    if not (marker and number.isascii() and number.isdigit()):
        raise KeyError(name)
    return _BY_NAME[base], int(number)


_BY_NAME = {ce_type(cls).rpartition(".v")[0]: cls for cls in event_classes()}
