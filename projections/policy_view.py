"""The policy view: what the policies remember between events, kept like any other read model.

`observe` moves the view by one event. A `PolicyBatch` stages one batch over a store: it reads the
rows the batch needs once, holds every change, and the store writes them together with the new
position in one transaction, after the runner has carried out what the policies decided.
Adapters: in memory (here, for unit tests) and SQL (policy_sql.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol
from uuid import UUID

from domain.case import Case
from domain.catalog import aggregate_type
from domain.figures import CaseFacts, Ledger
from domain.policies import SellerRecord, Standing
from domain.values import DomainEvent
from projections.arrival import Arrival, arrival
from projections.staging import fresh
from projections.tracking import Applied, Partition, Span, Tracked, advanced, select

React = Callable[[DomainEvent, "PolicyBatch"], None]
"""What a store hands each fresh event to, with the staged view (the runner's `react`)."""


class PolicyStore(Protocol):
    """The policy view's storage: rows and position change in one transaction per batch."""

    def position(self) -> int:
        """The last notification id the policies handled from the log (0 if none)."""
        ...

    def apply(
        self, batch: Sequence[tuple[int, DomainEvent]], react: React, through: int = 0
    ) -> int:
        """Stage the events after the position, hand each to `react`, then store the view and
        the position (the last id, or `through` if later); returns the events handed on."""
        ...

    def apply_tracked(
        self, records: Sequence[Tracked], spans: Mapping[Partition, Span], react: React
    ) -> Applied:
        """The same for records consumed from Kafka, positions kept per partition; events the
        view already handled (re-sent by the relay) are skipped and counted (`react_tracked`)."""
        ...

    def offsets(self) -> dict[Partition, int]:
        """The next offset to read, per partition (empty before the first batch)."""
        ...

    def reset(self) -> None:
        """Forget everything, positions included."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class PolicySource(Protocol):
    """Where a batch reads the rows it does not hold yet, many at a time."""

    def load_cases(self, case_ids: Collection[UUID]) -> dict[UUID, CaseFacts]:
        """The stored facts among these cases."""
        ...

    def load_recent(
        self, notifier_ids: Collection[UUID], since: datetime | None
    ) -> list[CaseFacts]:
        """The notifiers' cases filed at or after `since` (all of them for None)."""
        ...

    def load_standings(self, notifier_ids: Collection[UUID]) -> dict[UUID, Standing]:
        """The stored standings among these notifiers."""
        ...

    def load_sellers(self, seller_ids: Collection[UUID]) -> dict[UUID, SellerRecord]:
        """The stored records among these sellers."""
        ...

    def load_versions(self, aggregate_ids: Collection[UUID]) -> dict[UUID, int]:
        """The last version handled of each of these aggregates that the view has seen."""
        ...


@cache
def _kind(event_class: type[Any]) -> str | None:
    return aggregate_type(event_class)


class PolicyBatch:
    """The view over one batch (a `PolicyState`): reads through once, writes nothing itself."""

    def __init__(self, source: PolicySource, window_days: int) -> None:
        self._source = source
        self._window = timedelta(days=window_days)
        self._horizon: datetime | None = None
        self._cases: dict[UUID, CaseFacts | None] = {}
        self._standings: dict[UUID, Standing | None] = {}
        self._sellers: dict[UUID, SellerRecord | None] = {}
        self._ledgers: dict[UUID, Ledger] = {}
        self.cases: dict[UUID, CaseFacts] = {}
        """Cases changed by the batch, last version of each."""
        self.standings: dict[UUID, Standing] = {}
        self.sellers: dict[UUID, SellerRecord] = {}
        self._versions: dict[UUID, int] = {}
        self.versions: dict[UUID, int] = {}
        """The last version handled of each aggregate the batch's records moved."""

    def prefetch(self, events: Sequence[DomainEvent]) -> None:
        """Load, in one query per kind, every row the events will read, and the ledgers of the
        notifiers whose cases they touch (cases filed since the window before the first event)."""
        if not events:
            return
        self._horizon = min(event.timestamp for event in events) - self._window
        filed = [CaseFacts.filed(e) for e in events if isinstance(e, Case.Filed)]
        self._load_cases({e.originator_id for e in events if _kind(type(e)) == "case"})
        cases = [*filed, *(c for c in self._cases.values() if c is not None)]
        by_kind: dict[str | None, set[UUID]] = defaultdict(set)
        for event in events:
            by_kind[_kind(type(event))].add(event.originator_id)
        notifiers = {case.notifier_id for case in cases}
        self._load_standings(notifiers | by_kind["notifier"])
        self._load_sellers({case.seller_id for case in cases} | by_kind["seller"])
        self._load_ledgers(notifiers)

    def arrival_of(self, event: DomainEvent) -> Arrival:
        """How a consumed event meets the view; an aggregate the view holds no version of (it
        was fed from the log only) takes whatever comes."""
        held = self._versions.get(event.originator_id)
        return Arrival.NEXT if held is None else arrival(event.originator_version, held)

    def handled(self, event: DomainEvent) -> None:
        """Note that the view handled the event (its aggregate's version for the commit)."""
        self._versions[event.originator_id] = event.originator_version
        self.versions[event.originator_id] = event.originator_version

    def load_versions(self, aggregate_ids: Collection[UUID]) -> None:
        """Read the versions handled of these aggregates (before `arrival_of` is asked)."""
        wanted = [i for i in aggregate_ids if i not in self._versions]
        if wanted:
            self._versions.update(self._source.load_versions(wanted))

    # -- PolicyState ---------------------------------------------------------------------------

    def case(self, case_id: UUID) -> CaseFacts | None:
        """The case as changed so far in the batch, else as stored."""
        if case_id not in self._cases:
            self._load_cases([case_id])
        return self._cases[case_id]

    def standing(self, notifier_id: UUID) -> Standing:
        """The notifier's standing so far (the default one for a notifier not seen yet)."""
        if notifier_id not in self._standings:
            self._load_standings([notifier_id])
        return self._standings[notifier_id] or Standing(notifier_id)

    def seller(self, seller_id: UUID) -> SellerRecord:
        """The seller's record so far (empty for a seller without strikes)."""
        if seller_id not in self._sellers:
            self._load_sellers([seller_id])
        return self._sellers[seller_id] or SellerRecord(seller_id)

    def ledger(self, notifier_id: UUID) -> Ledger:
        """The notifier's cases filed since the batch's horizon, with this batch's changes."""
        if notifier_id not in self._ledgers:
            self._load_ledgers([notifier_id])
        return self._ledgers[notifier_id]

    # -- changes -------------------------------------------------------------------------------

    def put_case(self, case: CaseFacts) -> None:
        """Keep the case's new facts (and count them in its notifier's ledger)."""
        ledger = self.ledger(case.notifier_id)
        self._cases[case.case_id] = case
        self.cases[case.case_id] = case
        ledger.put(case)

    def put_standing(self, standing: Standing) -> None:
        """Keep the notifier's new standing."""
        self._standings[standing.notifier_id] = standing
        self.standings[standing.notifier_id] = standing

    def put_seller(self, seller: SellerRecord) -> None:
        """Keep the seller's new record."""
        self._sellers[seller.seller_id] = seller
        self.sellers[seller.seller_id] = seller

    # -- loading -------------------------------------------------------------------------------

    def _load_cases(self, case_ids: Iterable[UUID]) -> None:
        wanted = [i for i in case_ids if i not in self._cases]
        found = self._source.load_cases(wanted) if wanted else {}
        self._cases.update({i: found.get(i) for i in wanted})

    def _load_standings(self, notifier_ids: Iterable[UUID]) -> None:
        wanted = [i for i in notifier_ids if i not in self._standings]
        found = self._source.load_standings(wanted) if wanted else {}
        self._standings.update({i: found.get(i) for i in wanted})

    def _load_sellers(self, seller_ids: Iterable[UUID]) -> None:
        wanted = [i for i in seller_ids if i not in self._sellers]
        found = self._source.load_sellers(wanted) if wanted else {}
        self._sellers.update({i: found.get(i) for i in wanted})

    def _load_ledgers(self, notifier_ids: Iterable[UUID]) -> None:
        wanted = [i for i in notifier_ids if i not in self._ledgers]
        if not wanted:
            return
        recent: dict[UUID, list[CaseFacts]] = defaultdict(list)
        for case in self._source.load_recent(wanted, self._horizon):
            recent[case.notifier_id].append(case)
        self._ledgers.update({i: Ledger(recent[i]) for i in wanted})


def react_tracked(records: Sequence[Tracked], staged: PolicyBatch, react: React) -> Applied:
    """Hand consumed records to `react` in order, each event once: one whose version the view
    already handled (re-sent by the relay at a new offset) is skipped and counted. One past a
    missing version is handled all the same and counted as a gap: every command it gives is
    checked by its aggregate, and a policy left undone would never be done."""
    events = [record.event for record in records]
    staged.load_versions({event.originator_id for event in events})
    staged.prefetch(events)
    applied = duplicates = gaps = 0
    for event in events:
        verdict = staged.arrival_of(event)
        if verdict is Arrival.DUPLICATE:
            duplicates += 1
            continue
        if verdict is Arrival.GAP:
            gaps += 1
        staged.handled(event)
        react(event, staged)
        applied += 1
    return Applied(applied, duplicates, gaps)


def observe(event: DomainEvent, view: PolicyBatch) -> None:
    """Move the view by one event: a case's facts, a notifier's standing or a seller's strikes."""
    if isinstance(event, Case.Filed):
        if view.case(event.originator_id) is None:
            view.put_case(CaseFacts.filed(event))
    elif isinstance(event, Case.Transitioned):
        case = view.case(event.originator_id)
        if case is not None and (after := case.after(event)) != case:
            view.put_case(after)
    elif _kind(type(event)) == "notifier":
        standing = view.standing(event.originator_id)
        if (after_standing := standing.after(event)) != standing:
            view.put_standing(after_standing)
    elif _kind(type(event)) == "seller":
        seller = view.seller(event.originator_id)
        if (after_seller := seller.after(event)) != seller:
            view.put_seller(after_seller)


class MemoryPolicyStore:
    """The policy view in dicts, for unit tests; a batch that fails part-way changes nothing."""

    def __init__(self, window_days: int = 91) -> None:
        self.window_days = window_days
        self.cases: dict[UUID, CaseFacts] = {}
        self.standings: dict[UUID, Standing] = {}
        self.sellers: dict[UUID, SellerRecord] = {}
        self.versions: dict[UUID, int] = {}
        self._position = 0
        self._offsets: dict[Partition, int] = {}

    def position(self) -> int:
        """The last notification id the policies handled from the log (0 if none)."""
        return self._position

    def apply(
        self, batch: Sequence[tuple[int, DomainEvent]], react: React, through: int = 0
    ) -> int:
        """Stage and react to the events after the position, then keep the changes."""
        events = fresh(batch, self._position)
        self._run([event for _, event in events], react)
        self._position = max(self._position, through, *(seq for seq, _ in events[-1:]))
        return len(events)

    def apply_tracked(
        self, records: Sequence[Tracked], spans: Mapping[Partition, Span], react: React
    ) -> Applied:
        """Stage and react to the records not yet applied, then keep changes and offsets."""
        chosen = select(records, spans, self._offsets, self._position)
        staged = PolicyBatch(self, self.window_days)
        applied = react_tracked(chosen, staged, react)
        self._take(staged)
        self._offsets.update(advanced(spans, self._offsets))
        return applied

    def offsets(self) -> dict[Partition, int]:
        """The next offset to read, per partition."""
        return dict(self._offsets)

    def _run(self, events: Sequence[DomainEvent], react: React) -> None:
        staged = PolicyBatch(self, self.window_days)
        staged.prefetch(events)
        for event in events:
            react(event, staged)
        self._take(staged)

    def _take(self, staged: PolicyBatch) -> None:
        self.cases.update(staged.cases)
        self.standings.update(staged.standings)
        self.sellers.update(staged.sellers)
        self.versions.update(staged.versions)

    def load_cases(self, case_ids: Collection[UUID]) -> dict[UUID, CaseFacts]:
        """The stored facts among these cases."""
        return {i: self.cases[i] for i in case_ids if i in self.cases}

    def load_recent(
        self, notifier_ids: Collection[UUID], since: datetime | None
    ) -> list[CaseFacts]:
        """The notifiers' cases filed at or after `since`."""
        wanted = set(notifier_ids)
        return [
            c
            for c in self.cases.values()
            if c.notifier_id in wanted and (since is None or c.filed_at >= since)
        ]

    def load_standings(self, notifier_ids: Collection[UUID]) -> dict[UUID, Standing]:
        """The stored standings among these notifiers."""
        return {i: self.standings[i] for i in notifier_ids if i in self.standings}

    def load_sellers(self, seller_ids: Collection[UUID]) -> dict[UUID, SellerRecord]:
        """The stored records among these sellers."""
        return {i: self.sellers[i] for i in seller_ids if i in self.sellers}

    def load_versions(self, aggregate_ids: Collection[UUID]) -> dict[UUID, int]:
        """The last version handled of each of these aggregates seen."""
        return {i: self.versions[i] for i in aggregate_ids if i in self.versions}

    def reset(self) -> None:
        """Forget everything, positions included."""
        self.cases.clear()
        self.standings.clear()
        self.sellers.clear()
        self.versions.clear()
        self._position = 0
        self._offsets.clear()

    def close(self) -> None:
        """Nothing to release."""
