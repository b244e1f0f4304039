"""Rebuilding the views from the beginning into fresh tables that replace the old ones whole.

The replay keeps the views' current rows (cases, notifiers, chains) in memory while the events
stream through the same handlers the consumers use; append-only rows (audit trail, breaches) go
to the fresh tables a chunk at a time, the current rows once at the end. The adapter then
builds the indexes and swaps the fresh tables in, with the positions, in one transaction.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from domain.catalog import event_class
from domain.mapping import stored_payload
from domain.values import CorruptEvent, DomainEvent
from projections.audit import AuditChain
from projections.handlers import ProjectionError, VersionGap, project
from projections.models import CaseSummary
from projections.ports import NotifierRecord
from projections.staging import Batch
from projections.tracking import Partition, agreed

CHUNK = 5000
"""Events projected (and rows written) per step."""


class Chunk(list[tuple[int, DomainEvent]]):
    """One step of a feed: (notification id, event) pairs, and by notification id the JSON the
    feed read for its events (the audit rows keep it rather than serialise the events again)."""

    def __init__(self) -> None:
        super().__init__()
        self._read: list[tuple[int, str | None]] = []

    def add(self, seq: int, event: DomainEvent, payload: str | None) -> None:
        """Add an event with the JSON its feed read for it (None: not known)."""
        self.append((seq, event))
        self._read.append((seq, payload))

    @property
    def payloads(self) -> dict[int, str]:
        """The payloads by notification id, those the chunk's reads agree on (see `agreed`)."""
        return agreed(self._read)


def decoded(notifications: Iterable[Notification], mapper: Mapper[UUID]) -> Chunk:
    """Stored events as a chunk, each with its stored state as the payload when the mapper
    stores plain JSON (neither compressed nor encrypted)."""
    plain = not (mapper.cipher or mapper.compressor)
    chunk = Chunk()
    for n in notifications:
        try:
            payload = stored_payload(event_class(n.topic), n.state) if plain else None
            event = cast(DomainEvent, mapper.to_domain_event(n))
        except CorruptEvent as error:
            raise CorruptEvent(f"event store position {n.id}: {error}") from None
        chunk.add(n.id, event, payload)
    return chunk


def payloads_of(chunk: Sequence[tuple[int, DomainEvent]]) -> dict[int, str] | None:
    """The payloads a chunk carries, if it is a Chunk."""
    return chunk.payloads if isinstance(chunk, Chunk) else None


@dataclass(frozen=True)
class Positions:
    """Where the rebuilt views stand: the log watermark and a consumer's next offsets."""

    position: int = 0
    """Notification id up to which the views hold the log (a rebuild from the event store)."""
    consumer: str = "projections"
    offsets: Mapping[Partition, int] = field(default_factory=dict)
    """The consumer's next offset per partition (replacing what it had stored)."""


class FreshTables(Protocol):
    """Fresh tables beside the live ones, filled by a rebuild and swapped in at its end."""

    def append(self, staged: Batch) -> None:
        """Write a chunk's append-only rows (audit trail, breaches, steps, identifications,
        messages)."""
        ...

    def finish(self, replay: Replay, positions: Positions) -> None:
        """Write the current rows, build the indexes, swap the views and positions in at once."""
        ...

    def discard(self) -> None:
        """Drop the fresh tables (a rebuild that failed or was interrupted)."""
        ...


class Rebuildable(Protocol):
    """A read store that can be rebuilt."""

    def fresh_tables(self) -> FreshTables:
        """Fresh, empty tables for a rebuild."""
        ...


class Replay:
    """The views' current rows, in memory, as events are projected a chunk at a time."""

    def __init__(self) -> None:
        self.cases: dict[UUID, CaseSummary] = {}
        self.notifiers: dict[UUID, NotifierRecord] = {}
        self.chains: dict[UUID, AuditChain] = {}
        self.rejected: list[tuple[int, str]] = []
        """(seq, reason) of events the views could not place, left out as a consumer would."""
        self.duplicates = 0
        """Events read again (re-sent at another offset) and skipped, as a consumer would."""
        self.events = 0

    def load_cases(self, case_ids: Collection[UUID]) -> dict[UUID, CaseSummary]:
        """The current cases among these ids."""
        return {i: self.cases[i] for i in case_ids if i in self.cases}

    def load_notifiers(self, notifier_ids: Collection[UUID]) -> dict[UUID, NotifierRecord]:
        """The current notifiers among these ids."""
        return {i: self.notifiers[i] for i in notifier_ids if i in self.notifiers}

    def load_chains(self, aggregate_ids: Collection[UUID]) -> dict[UUID, AuditChain]:
        """The current audit chains among these ids."""
        return {i: self.chains[i] for i in aggregate_ids if i in self.chains}

    def apply(
        self, events: Sequence[tuple[int, DomainEvent]], payloads: Mapping[int, str] | None = None
    ) -> Batch:
        """Project a chunk (in notification order), with the payloads its feed read (by
        notification id); returns its staged changes.

        An event the views cannot place is left out with its whole effect, as the consumer's
        dead-letter path does, and the chunk is projected again without it."""
        pending = sorted(events, key=lambda pair: pair[0])
        while True:
            staged = Batch(self, payloads)
            staged.prefetch(event for _, event in pending)
            failed, duplicates, gapped = _first_failure(pending, staged)
            if failed is None:
                break
            index, reason = failed
            self.rejected.append((pending[index][0], reason))
            del pending[index]
        self.rejected += gapped
        self.duplicates += duplicates
        self.cases.update(staged.cases)
        self.notifiers.update(staged.notifiers)
        self.chains.update(staged.chains)
        self.events += len(events)
        return staged


def _first_failure(
    events: Sequence[tuple[int, DomainEvent]], staged: Batch
) -> tuple[tuple[int, str] | None, int, list[tuple[int, str]]]:
    """The index and reason of the first event the views cannot place (None if every one
    fits), how many events before it the views already held, and the events left out past a
    missing version of their aggregate (a gap stages nothing, so the pass goes on)."""
    duplicates = 0
    gapped: list[tuple[int, str]] = []
    for index, (seq, event) in enumerate(events):
        try:
            if not project(seq, event, staged):
                duplicates += 1
        except VersionGap as gap:
            gapped.append((seq, str(gap)))
        except ProjectionError as error:
            return (index, str(error)), duplicates, gapped
    return None, duplicates, gapped


@dataclass
class Progress:
    """How far a rebuild has come."""

    events: int = 0
    last_seq: int = 0
    """The highest notification id replayed so far."""
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Events per second so far."""
        elapsed = time.monotonic() - self.started
        return self.events / elapsed if elapsed > 0 else 0.0


def rebuild(
    store: Rebuildable,
    chunks: Iterable[Sequence[tuple[int, DomainEvent]]],
    positions: Positions,
    progress: Callable[[Progress], None] | None = None,
) -> Replay:
    """Replay every chunk into fresh tables and swap them in with `positions`; returns the replay.

    Queries see the old views until the swap commits and the new ones after; a failure (or
    Ctrl-C) drops the fresh tables and leaves the old views as they were."""
    tables = store.fresh_tables()
    replay = Replay()
    done = Progress()
    try:
        for chunk in chunks:
            staged = replay.apply(chunk, payloads_of(chunk))
            tables.append(staged)
            settle_heap()
            done.events += len(chunk)
            done.last_seq = max(done.last_seq, max((seq for seq, _ in chunk), default=0))
            if progress is not None:
                progress(done)
        tables.finish(replay, positions)
    except BaseException:
        tables.discard()
        raise
    finally:
        gc.unfreeze()
    return replay


def settle_heap() -> None:
    """Exempt what the replay holds so far from the cyclic garbage collector's later passes.

    The replay's current rows only grow; without this every full collection walks all of them
    again, which costs a sixth of a rebuild's time at 75k events and more as the heap grows.
    `gc.unfreeze()` at the end hands them back."""
    gc.freeze()
