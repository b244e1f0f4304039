"""Whether a reader already holds an event: the rule every reader of ntd's topics follows.

Kafka offsets say which messages a reader has read, not which events. The relay delivers at least
once, so one event can arrive twice at different offsets; versions number each aggregate's
events 1, 2, 3… without a hole, so comparing an event's version with the last one a reader
applied for that aggregate tells a re-sent event, the next one and a missing one apart.
"""

from __future__ import annotations

from enum import Enum


class Arrival(Enum):
    """How an aggregate's event meets a reader that holds the aggregate up to some version."""

    NEXT = "next"
    """The version after the one held (or the first): apply it."""
    DUPLICATE = "duplicate"
    """A version already held: a re-sent message; skip it and count it."""
    GAP = "gap"
    """A version beyond the next one: the events between are missing from the feed."""


def arrival(version: int, held: int) -> Arrival:
    """How the event at `version` meets a reader holding its aggregate up to `held` (0: not at
    all). Versions number an aggregate's events 1, 2, 3… with no hole, so this is exact."""
    if version <= held:
        return Arrival.DUPLICATE
    return Arrival.NEXT if version == held + 1 else Arrival.GAP
