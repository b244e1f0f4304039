"""The in-memory adapter: every view in dicts and lists, for unit tests and quick looks."""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from domain.case import Deadline
from domain.rules import Rules
from domain.values import DomainEvent
from projections.audit import AuditChain, AuditRecord, Head, conditions, verify
from projections.dashboard import (
    APPEAL_REJECTED,
    Figures,
    assemble,
    hours_between,
    tally,
    window_start,
)
from projections.encoding import stamp
from projections.handlers import project
from projections.models import (
    AuditQuery,
    AuditRow,
    AuditVerification,
    CaseSummary,
    Dashboard,
    DueDeadline,
    NotifierSummary,
    SellerFigure,
)
from projections.ports import Breach, NotifierRecord
from projections.rebuild import Positions, Replay, payloads_of
from projections.staging import Batch, fresh
from projections.tracking import (
    Applied,
    Partition,
    Span,
    Tracked,
    advanced,
    payloads,
    project_tracked,
    select,
)

_OPERATORS = {"=": operator.eq, ">=": operator.ge, "<": operator.lt}


class MemoryReadStore:
    """A ReadStore in Python structures; a batch that fails part-way changes nothing."""

    def __init__(self) -> None:
        self.cases: dict[UUID, CaseSummary] = {}
        self.notifier_records: dict[UUID, NotifierRecord] = {}
        self.breaches: list[Breach] = []
        self.chains: dict[UUID, AuditChain] = {}
        self.audit_records: list[AuditRecord] = []
        """The audit trail in seq order; tests tamper with it to exercise verify_audit()."""
        self._position = 0
        self._offsets: dict[str, dict[Partition, int]] = {}

    def position(self) -> int:
        """The last notification id applied (0 if none)."""
        return self._position

    def apply(self, batch: Sequence[tuple[int, DomainEvent]]) -> None:
        """Stage the batch's changes, then take them all at once with the new position."""
        events = fresh(batch, self._position)
        if not events:
            return
        staged = Batch(self, payloads_of(batch))
        staged.prefetch(event for _, event in events)
        for seq, event in events:
            project(seq, event, staged)
        self.cases.update(staged.cases)
        self.notifier_records.update(staged.notifiers)
        self.chains.update(staged.chains)
        self.breaches.extend(staged.breaches)
        self.audit_records.extend(staged.records)
        self._position = events[-1][0]

    def offsets(
        self, consumer: str, partitions: Collection[Partition] | None = None
    ) -> dict[Partition, int]:
        """The stored next offset of each partition (of those given) that has one."""
        stored = self._offsets.get(consumer, {})
        if partitions is None:
            return dict(stored)
        return {p: stored[p] for p in partitions if p in stored}

    def apply_tracked(
        self, consumer: str, records: Sequence[Tracked], spans: Mapping[Partition, Span]
    ) -> Applied:
        """Apply the records not applied before and store the spans' ends, all at once."""
        stored = self._offsets.get(consumer, {})
        chosen = select(records, spans, stored, self._position)
        staged = Batch(self, payloads(chosen))
        applied = project_tracked(chosen, staged)
        self._take(staged)
        self._offsets[consumer] = {**stored, **advanced(spans, stored)}
        return applied

    def _take(self, staged: Batch) -> None:
        self.cases.update(staged.cases)
        self.notifier_records.update(staged.notifiers)
        self.chains.update(staged.chains)
        self.breaches.extend(staged.breaches)
        self.audit_records.extend(staged.records)
        self.audit_records.sort(key=lambda r: r.seq)

    def fresh_tables(self) -> MemoryFreshTables:
        """Fresh views for a rebuild, taken over whole by `finish`."""
        return MemoryFreshTables(self)

    # -- Source (what a batch reads) -----------------------------------------------------------

    def load_cases(self, case_ids: Collection[UUID]) -> dict[UUID, CaseSummary]:
        """The stored cases among these ids."""
        return {i: self.cases[i] for i in case_ids if i in self.cases}

    def load_notifiers(self, notifier_ids: Collection[UUID]) -> dict[UUID, NotifierRecord]:
        """The stored notifiers among these ids."""
        return {i: self.notifier_records[i] for i in notifier_ids if i in self.notifier_records}

    def load_chains(self, aggregate_ids: Collection[UUID]) -> dict[UUID, AuditChain]:
        """The stored audit chains among these ids."""
        return {i: self.chains[i] for i in aggregate_ids if i in self.chains}

    # -- queries -------------------------------------------------------------------------------

    def dashboard(self, notifier_id: UUID, now: datetime, rules: Rules) -> Dashboard:
        """A notifier's figures from the case summaries as they are now."""
        cases = [c for c in self.cases.values() if c.notifier_id == notifier_id]
        start = window_start(now, rules)
        notifier = self.notifier_records.get(notifier_id)
        kept = Counter(
            (c.seller_id, c.marketplace) for c in cases if c.taken_down_at and not c.reversed
        )
        past_window = {
            b.case_id for b in self.breaches if b.deadline is Deadline.COUNTER_NOTICE
        } | {UUID(r.aggregate_id) for r in self.audit_records if r.event_type == APPEAL_REJECTED}
        figures = Figures(
            notifier_id=notifier_id,
            name=notifier.name if notifier else None,
            in_trusted_lane=notifier.in_trusted_lane if notifier else False,
            as_of=now,
            window_start=start,
            total=tally(cases, past_window),
            window=tally((c for c in cases if start <= c.filed_at <= now), past_window),
            cases_by_state=Counter(c.state for c in cases),
            filed_per_day=Counter(stamp(c.filed_at)[:10] for c in cases),
            hours_to_takedown=[
                hours_between(c.filed_at, c.taken_down_at) for c in cases if c.taken_down_at
            ],
            open_deadlines=Counter(kind for c in cases for kind in c.deadlines),
            breaches=Counter(b.deadline for b in self.breaches if b.notifier_id == notifier_id),
            top_sellers=[
                SellerFigure(seller_id=seller, marketplace=market, takedowns=count)
                for (seller, market), count in kept.items()
            ],
        )
        return assemble(figures, rules)

    def notifiers(self) -> list[NotifierSummary]:
        """Every notifier with its lane and case count, most cases first."""
        counts = Counter(c.notifier_id for c in self.cases.values())
        summaries = [
            NotifierSummary(
                notifier_id=n.notifier_id,
                name=n.name,
                in_trusted_lane=n.in_trusted_lane,
                cases=counts[n.notifier_id],
            )
            for n in self.notifier_records.values()
        ]
        return sorted(summaries, key=lambda s: (-s.cases, s.name, str(s.notifier_id)))

    def case(self, case_id: UUID) -> CaseSummary | None:
        """One case's summary, or None."""
        return self.cases.get(case_id)

    def audit_query(self, query: AuditQuery) -> Iterator[AuditRow]:
        """Matching audit rows in seq order."""
        wanted = [(column, _OPERATORS[op], value) for column, op, value in conditions(query)]
        for record in self.audit_records:
            if all(test(getattr(record, column), value) for column, test, value in wanted):
                yield record.to_row()

    def verify_audit(self) -> AuditVerification:
        """Walk every audit chain against the recorded heads."""
        heads = {
            str(c.aggregate_id): Head(c.head_version, c.head_seq, c.head_hash)
            for c in self.chains.values()
        }
        return verify(sorted(self.audit_records, key=lambda r: r.seq), heads)

    def due_deadlines(self, now: datetime) -> list[DueDeadline]:
        """Open deadlines due at or before `now`, earliest first."""
        due = [
            DueDeadline(case_id=case.case_id, deadline=kind, due_at=at)
            for case in self.cases.values()
            for kind, at in case.deadlines.items()
            if at <= now
        ]
        return sorted(due, key=lambda d: (d.due_at, str(d.case_id), d.deadline.value))

    def reset(self) -> None:
        """Forget everything, position included."""
        self.cases.clear()
        self.notifier_records.clear()
        self.breaches.clear()
        self.chains.clear()
        self.audit_records.clear()
        self._position = 0
        self._offsets.clear()

    def close(self) -> None:
        """Nothing to release."""


class MemoryFreshTables:
    """A rebuild's rows, kept aside until `finish` hands them to the store in one step."""

    def __init__(self, store: MemoryReadStore) -> None:
        self._store = store
        self._records: list[AuditRecord] = []
        self._breaches: list[Breach] = []

    def append(self, records: Sequence[AuditRecord], breaches: Sequence[Breach]) -> None:
        """Keep append-only rows."""
        self._records.extend(records)
        self._breaches.extend(breaches)

    def finish(self, replay: Replay, positions: Positions) -> None:
        """Replace every view and the positions."""
        store = self._store
        store.cases = dict(replay.cases)
        store.notifier_records = dict(replay.notifiers)
        store.chains = dict(replay.chains)
        store.breaches = sorted(self._breaches, key=lambda b: b.seq)
        store.audit_records = sorted(self._records, key=lambda r: r.seq)
        store._position = positions.position
        store._offsets[positions.consumer] = dict(positions.offsets)

    def discard(self) -> None:
        """Forget the rows."""
        self._records.clear()
        self._breaches.clear()
