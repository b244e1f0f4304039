"""The read store: the port the CLI and consumers use (ntd.bootstrap picks its adapter)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.rules import Rules
from domain.values import DomainEvent
from projections.audit import AuditRecord
from projections.models import (
    ActionItem,
    AuditQuery,
    AuditRow,
    AuditVerification,
    CaseLine,
    CaseQuery,
    CaseSummary,
    Dashboard,
    DueDeadline,
    NotifierSummary,
)
from projections.rebuild import FreshTables
from projections.tracking import Applied, Partition, Span, Tracked


class ReadStore(Protocol):
    """Every read model, fed by apply() and queried by the rest; one adapter per storage."""

    def position(self) -> int:
        """The last notification id applied (0 if none)."""
        ...

    def apply(self, batch: Sequence[tuple[int, DomainEvent]]) -> None:
        """Apply (notification id, event) pairs and store the new position in one transaction."""
        ...

    def offsets(
        self, consumer: str, partitions: Collection[Partition] | None = None
    ) -> dict[Partition, int]:
        """A Kafka consumer's stored next offset of each partition (of those given) that has one."""
        ...

    def apply_tracked(
        self, consumer: str, records: Sequence[Tracked], spans: Mapping[Partition, Span]
    ) -> Applied:
        """Apply consumed records not applied before and store the spans' ends as the consumer's
        next offsets, in one transaction (see projections.tracking); returns how many applied
        and how many were re-sent events the views already held."""
        ...

    def fresh_tables(self) -> FreshTables:
        """Fresh tables for a rebuild (projections.rebuild), swapped in whole at its end."""
        ...

    def dashboard(
        self, notifier_id: UUID, now: datetime, rules: Rules, viewer: str | None = None
    ) -> Dashboard:
        """A notifier's figures as they stood at `now`, computed at query time; the unread
        messages are `viewer`'s (a principal, `kind:id`), or not counted without one."""
        ...

    def case_list(self, query: CaseQuery) -> list[CaseLine]:
        """The cases the query matches, the latest filed first, in one query."""
        ...

    def queue(self, query: CaseQuery) -> list[CaseLine]:
        """The open cases the query matches in the work queue's order (projections.queues),
        in one query."""
        ...

    def needs_action(self, reach: frozenset[UUID] | None, viewer: str) -> list[ActionItem]:
        """What the cases of the notifiers in reach (None: every notifier) await from their
        notifier, `viewer`'s unread messages included, the soonest due first; one query."""
        ...

    def mark_read(self, principal: str, case_id: UUID, version: int) -> None:
        """Note that `principal` (`kind:id`) has read the case's conversation up to the case's
        `version` (a mark never moves back). Not an event: a rebuild keeps the marks."""
        ...

    def notifiers(self) -> list[NotifierSummary]:
        """Every notifier with its lane and case count, most cases first."""
        ...

    def case(self, case_id: UUID) -> CaseSummary | None:
        """One case's summary, or None."""
        ...

    def audit_query(self, query: AuditQuery) -> Iterator[AuditRow]:
        """Matching audit rows in seq order, streamed."""
        ...

    def verify_audit(
        self, observe: Callable[[AuditRecord], None] | None = None
    ) -> AuditVerification:
        """Walk every audit chain and report the first broken link, if any; `observe` is shown
        every row on the way (one pass serves a second check)."""
        ...

    def due_deadlines(self, now: datetime) -> list[DueDeadline]:
        """Open deadlines due at or before `now`, earliest first."""
        ...

    def reset(self) -> None:
        """Forget everything (position included), e.g. before a rebuild."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...
