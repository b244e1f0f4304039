"""Stored events read back by position (the relay, rebuilds): which class of ntd a row's topic
names and whether it leaves the store, with the row's position in the error when the store was
changed outside ntd."""

from __future__ import annotations

from eventsourcing.persistence import Notification

from domain.catalog import event_class, is_published
from domain.values import CorruptEvent, DomainEvent


def stored_class(row: Notification) -> type[DomainEvent]:
    """The event class of a row of the log (looked up in ntd's catalogue, never imported by
    name); CorruptEvent naming its position otherwise."""
    try:
        return event_class(row.topic)
    except CorruptEvent as error:
        raise at(row, error) from None


def published(row: Notification) -> bool:
    """Whether a row of the log is a published event; CorruptEvent naming its position if its
    topic names no event of ntd."""
    try:
        return is_published(row.topic)
    except CorruptEvent as error:
        raise at(row, error) from None


def at(row: Notification, error: CorruptEvent) -> CorruptEvent:
    """The error, saying where in the store it is."""
    return CorruptEvent(f"event store position {row.id}: {error}")
