"""The in-memory adapter: every view in dicts and lists, for unit tests and quick looks."""

from __future__ import annotations

import operator
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from domain.case import Deadline
from domain.rules import Rules
from domain.values import DomainEvent
from projections.audit import AuditChain, AuditRecord, Head, conditions, verify
from projections.dashboard import (
    APPEAL_REJECTED,
    LANE_EVENTS,
    Figures,
    assemble,
    hours_between,
    kept_takedown,
    lane_at,
    tally,
    window_start,
)
from projections.encoding import stamp
from projections.handlers import project
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
    SellerFigure,
)
from projections.ports import (
    Breach,
    IdentificationRecord,
    IdentificationStep,
    MessageRecord,
    NotifierRecord,
    StepRecord,
)
from projections.queues import (
    DEFAULT_LIMIT,
    action_key,
    actions,
    for_seller,
    matches,
    newest_key,
    queue_key,
    unread,
)
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
_Row = TypeVar("_Row", Breach, StepRecord, IdentificationRecord, MessageRecord, AuditRecord)


class MemoryReadStore:
    """A ReadStore in Python structures; a batch that fails part-way changes nothing."""

    def __init__(self) -> None:
        self.cases: dict[UUID, CaseSummary] = {}
        self.notifier_records: dict[UUID, NotifierRecord] = {}
        self.breaches: list[Breach] = []
        self.steps: list[StepRecord] = []
        self.identifications: list[IdentificationRecord] = []
        self.messages: list[MessageRecord] = []
        self.reads: dict[tuple[str, UUID], int] = {}
        """Read marks: (principal, case id) to the case version read up to; not events, so a
        rebuild keeps them."""
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
        self._take(staged)
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
        self.breaches = _merged(self.breaches, staged.breaches)
        self.steps = _merged(self.steps, staged.steps)
        self.identifications = _merged(self.identifications, staged.identifications)
        self.messages = _merged(self.messages, staged.messages)
        self.audit_records[:] = _merged(self.audit_records, staged.records)

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

    def dashboard(
        self, notifier_id: UUID, now: datetime, rules: Rules, viewer: str | None = None
    ) -> Dashboard:
        """A notifier's figures as they stood at `now`, from the rows as they are now."""
        cases = [
            c for c in self.cases.values() if c.notifier_id == notifier_id and c.filed_at <= now
        ]
        start = window_start(now, rules)
        notifier = self.notifier_records.get(notifier_id)
        kept = Counter((c.seller_id, c.marketplace) for c in cases if kept_takedown(c, now))
        past_window: dict[UUID, datetime] = {}
        for b in self.breaches:
            if b.notifier_id == notifier_id and b.deadline is Deadline.COUNTER_NOTICE:
                past_window[b.case_id] = min(b.missed_at, past_window.get(b.case_id, b.missed_at))
        for r in self.audit_records:
            if r.event_type == APPEAL_REJECTED and r.notifier_id == str(notifier_id):
                moment = datetime.fromisoformat(r.occurred_at)
                case_id = UUID(r.aggregate_id)
                past_window[case_id] = min(moment, past_window.get(case_id, moment))
        latest: dict[UUID, StepRecord] = {}
        for step in self.steps:  # in seq order: the last one by `now` stays
            if step.notifier_id == notifier_id and step.at <= now:
                latest[step.case_id] = step
        lane = lane_at(
            (
                (r.seq, r.event_type, r.occurred_at)
                for r in self.audit_records
                if r.aggregate_id == str(notifier_id) and r.event_type in LANE_EVENTS
            ),
            now,
        )
        identified = [
            r for r in self.identifications if r.notifier_id == notifier_id and r.at <= now
        ]
        figures = Figures(
            notifier_id=notifier_id,
            name=notifier.name if notifier else None,
            in_trusted_lane=bool(lane),
            as_of=now,
            window_start=start,
            total=tally(cases, now, past_window),
            window=tally((c for c in cases if start <= c.filed_at), now, past_window),
            cases_by_state=Counter(step.state for step in latest.values()),
            filed_per_day=Counter(stamp(c.filed_at)[:10] for c in cases),
            hours_to_takedown=[
                hours_between(c.filed_at, c.taken_down_at)
                for c in cases
                if c.taken_down_at and c.taken_down_at <= now
            ],
            open_deadlines=Counter(kind for step in latest.values() for kind in step.deadlines),
            breaches=Counter(
                b.deadline
                for b in self.breaches
                if b.notifier_id == notifier_id and b.missed_at <= now
            ),
            top_sellers=[
                SellerFigure(seller_id=seller, marketplace=market, takedowns=count)
                for (seller, market), count in kept.items()
            ],
            identifications_requested=sum(
                r.step is IdentificationStep.REQUESTED for r in identified
            ),
            identification_answers=[
                (r.verdict, hours_between(r.asked_at, r.at))
                for r in identified
                if r.step is IdentificationStep.ANSWERED and r.verdict is not None
            ],
            unread_messages=None
            if viewer is None
            else sum(
                unread(
                    [m for m in messages if m.posted_at <= now],
                    viewer,
                    self.reads.get((viewer, case_id), 0),
                )
                for case_id, messages in self._conversations().items()
                if self.cases[case_id].notifier_id == notifier_id
            ),
        )
        return assemble(figures, rules)

    def _conversations(self) -> dict[UUID, list[MessageRecord]]:
        by_case: dict[UUID, list[MessageRecord]] = defaultdict(list)
        for message in self.messages:
            by_case[message.case_id].append(message)
        return by_case

    # -- lists and queues ----------------------------------------------------------------------

    def case_list(self, query: CaseQuery) -> list[CaseLine]:
        """The cases the query matches, the latest filed first."""
        lines = sorted(self._lines(query), key=newest_key)
        return lines[: query.limit or DEFAULT_LIMIT]

    def queue(self, query: CaseQuery) -> list[CaseLine]:
        """The open cases the query matches, in the work queue's order (projections.queues)."""
        wanted = query.model_copy(update={"open_only": True})
        lines = sorted(self._lines(wanted), key=lambda line: queue_key(line, wanted))
        return lines[: query.limit or DEFAULT_LIMIT]

    def needs_action(self, reach: frozenset[UUID] | None, viewer: str) -> list[ActionItem]:
        """What the cases of the notifiers in reach await from them, the soonest due first."""
        query = CaseQuery(reach=reach, viewer=viewer)
        items = [item for line in self._lines(query) for item in actions(line)]
        return sorted(items, key=action_key)

    def mark_read(self, principal: str, case_id: UUID, version: int) -> None:
        """Note that `principal` has read the case's conversation up to the case's `version`."""
        key = (principal, case_id)
        self.reads[key] = max(version, self.reads.get(key, 0))

    def _lines(self, query: CaseQuery) -> list[CaseLine]:
        conversations = self._conversations() if query.viewer and not query.for_seller else {}
        lines = []
        for case in self.cases.values():
            if not matches(case, query):
                continue
            notifier = self.notifier_records.get(case.notifier_id)
            line = CaseLine(
                case_id=case.case_id,
                notice_id=case.notice_id,
                notifier_id=case.notifier_id,
                notifier_name=notifier.name if notifier else None,
                account_manager=notifier.account_manager if notifier else None,
                marketplace=case.marketplace,
                listing_id=case.listing_id,
                seller_id=case.seller_id,
                state=case.state,
                lane=case.lane,
                filed_at=case.filed_at,
                deadlines=dict(case.deadlines),
                identification_verdict=case.identification_verdict,
                unread=None
                if query.viewer is None or query.for_seller
                else unread(
                    conversations.get(case.case_id, ()),
                    query.viewer,
                    self.reads.get((query.viewer, case.case_id), 0),
                ),
            )
            lines.append(for_seller(line) if query.for_seller else line)
        return lines

    def notifiers(self) -> list[NotifierSummary]:
        """Every notifier with its lane and case count, most cases first."""
        counts = Counter(c.notifier_id for c in self.cases.values())
        summaries = [
            NotifierSummary(
                notifier_id=n.notifier_id,
                name=n.name,
                in_trusted_lane=n.in_trusted_lane,
                cases=counts[n.notifier_id],
                account_manager=n.account_manager,
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

    def verify_audit(
        self, observe: Callable[[AuditRecord], None] | None = None
    ) -> AuditVerification:
        """Walk every audit chain against the recorded heads, showing `observe` every row."""
        heads = {
            str(c.aggregate_id): Head(c.head_version, c.head_seq, c.head_hash)
            for c in self.chains.values()
        }
        records = sorted(self.audit_records, key=lambda r: r.seq)
        if observe is not None:
            for record in records:
                observe(record)
        return verify(records, heads)

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
        self.steps.clear()
        self.identifications.clear()
        self.messages.clear()
        self.reads.clear()
        self.chains.clear()
        self.audit_records.clear()
        self._position = 0
        self._offsets.clear()

    def close(self) -> None:
        """Nothing to release."""


def _merged(kept: list[_Row], new: Sequence[_Row]) -> list[_Row]:
    """Append-only rows with a batch's new ones, in seq order."""
    return sorted(list(kept) + list(new), key=lambda row: row.seq) if new else kept


class MemoryFreshTables:
    """A rebuild's rows, kept aside until `finish` hands them to the store in one step."""

    def __init__(self, store: MemoryReadStore) -> None:
        self._store = store
        self._kept = Batch(store)

    def append(self, staged: Batch) -> None:
        """Keep append-only rows."""
        kept = self._kept
        kept.records.extend(staged.records)
        kept.breaches.extend(staged.breaches)
        kept.steps.extend(staged.steps)
        kept.identifications.extend(staged.identifications)
        kept.messages.extend(staged.messages)

    def finish(self, replay: Replay, positions: Positions) -> None:
        """Replace every view and the positions (read marks are not views: they stay)."""
        store, kept = self._store, self._kept
        store.cases = dict(replay.cases)
        store.notifier_records = dict(replay.notifiers)
        store.chains = dict(replay.chains)
        store.breaches = sorted(kept.breaches, key=lambda b: b.seq)
        store.steps = sorted(kept.steps, key=lambda s: s.seq)
        store.identifications = sorted(kept.identifications, key=lambda i: i.seq)
        store.messages = sorted(kept.messages, key=lambda m: m.seq)
        store.audit_records = sorted(kept.records, key=lambda r: r.seq)
        store._position = positions.position
        store._offsets[positions.consumer] = dict(positions.offsets)

    def discard(self) -> None:
        """Forget the rows."""
        self._kept = Batch(self._store)
