"""The views of one batch: rows are read from the store once, changes are kept until it commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.case import Deadline
from domain.values import DomainEvent
from projections.audit import AuditChain, AuditRecord, published_type
from projections.models import CaseSummary
from projections.ports import (
    Breach,
    IdentificationRecord,
    MessageRecord,
    NotifierRecord,
    StepRecord,
)


def fresh(batch: Iterable[tuple[int, DomainEvent]], position: int) -> list[tuple[int, DomainEvent]]:
    """The batch's events after the position, in notification order, each once."""
    result: list[tuple[int, DomainEvent]] = []
    last = position
    for seq, event in sorted(batch, key=lambda pair: pair[0]):
        if seq > last:
            result.append((seq, event))
            last = seq
    return result


class Source(Protocol):
    """Where a batch reads the rows it does not hold yet, many at a time."""

    def load_cases(self, case_ids: Collection[UUID]) -> dict[UUID, CaseSummary]:
        """The stored cases among these ids, open deadlines included."""
        ...

    def load_notifiers(self, notifier_ids: Collection[UUID]) -> dict[UUID, NotifierRecord]:
        """The stored notifiers among these ids."""
        ...

    def load_chains(self, aggregate_ids: Collection[UUID]) -> dict[UUID, AuditChain]:
        """The stored audit chains among these ids."""
        ...


class Batch:
    """Implements every view port over one batch: reads through once, writes nothing itself."""

    def __init__(self, source: Source, payloads: Mapping[int, str] | None = None) -> None:
        """`payloads` holds, by notification id, events' JSON as the feed read it."""
        self._source = source
        self._payloads = payloads or {}
        self._cases: dict[UUID, CaseSummary | None] = {}
        self._stored_deadlines: dict[UUID, Mapping[Deadline, datetime]] = {}
        self._notifiers: dict[UUID, NotifierRecord | None] = {}
        self._chains: dict[UUID, AuditChain | None] = {}
        self.cases: dict[UUID, CaseSummary] = {}
        """Cases changed by the batch, last version of each."""
        self.notifiers: dict[UUID, NotifierRecord] = {}
        self.chains: dict[UUID, AuditChain] = {}
        self.breaches: list[Breach] = []
        self.steps: list[StepRecord] = []
        self.identifications: list[IdentificationRecord] = []
        self.messages: list[MessageRecord] = []
        self.records: list[AuditRecord] = []

    def prefetch(self, events: Iterable[DomainEvent]) -> None:
        """Load, in one query per view, every stored row the events will touch.

        Chains are read for every aggregate, new-looking ones too: a chain's head is what the
        views hold of its aggregate (see `handlers.project`), and a re-sent first event must
        meet the chain its first delivery made. An aggregate without a chain has no row in any
        view (its first event writes both), so its other rows need no query."""
        by_kind: dict[str, set[UUID]] = defaultdict(set)
        for event in events:
            kind = published_type(type(event))
            if kind is not None:
                by_kind[kind].add(event.originator_id)
        self._load_chains(set().union(*by_kind.values()))
        for aggregate_id, chain in self._chains.items():
            if chain is None:
                self._cases.setdefault(aggregate_id, None)
                self._notifiers.setdefault(aggregate_id, None)
        self._load_cases(by_kind["case"])
        self._load_notifiers(by_kind["notifier"])

    # -- CaseView ------------------------------------------------------------------------------

    def case(self, case_id: UUID) -> CaseSummary | None:
        """The case as changed so far in the batch, else as stored."""
        if case_id not in self._cases:
            self._load_cases([case_id])
        return self._cases[case_id]

    def put_case(self, case: CaseSummary) -> None:
        """Keep the case's new summary for the commit."""
        self._cases[case.case_id] = case
        self.cases[case.case_id] = case

    def add_breach(self, breach: Breach) -> None:
        """Keep a missed deadline for the commit."""
        self.breaches.append(breach)

    def add_step(self, step: StepRecord) -> None:
        """Keep where a case stood after an event, for the commit."""
        self.steps.append(step)

    def add_identification(self, record: IdentificationRecord) -> None:
        """Keep an identification request or answer for the commit."""
        self.identifications.append(record)

    def add_message(self, message: MessageRecord) -> None:
        """Keep a message for the commit."""
        self.messages.append(message)

    def deadlines_changed(self) -> list[CaseSummary]:
        """Changed cases whose open deadlines differ from the stored ones."""
        return [
            case
            for case_id, case in self.cases.items()
            if case.deadlines != self._stored_deadlines.get(case_id, {})
        ]

    # -- NotifierView --------------------------------------------------------------------------

    def notifier(self, notifier_id: UUID) -> NotifierRecord | None:
        """The notifier as changed so far in the batch, else as stored."""
        if notifier_id not in self._notifiers:
            self._load_notifiers([notifier_id])
        return self._notifiers[notifier_id]

    def put_notifier(self, notifier: NotifierRecord) -> None:
        """Keep the notifier's new record for the commit."""
        self._notifiers[notifier.notifier_id] = notifier
        self.notifiers[notifier.notifier_id] = notifier

    # -- AuditView -----------------------------------------------------------------------------

    def chain(self, aggregate_id: UUID) -> AuditChain | None:
        """The chain as advanced so far in the batch, else as stored."""
        if aggregate_id not in self._chains:
            self._load_chains([aggregate_id])
        return self._chains[aggregate_id]

    def append(self, record: AuditRecord, chain: AuditChain) -> None:
        """Keep the row and the chain's new head for the commit."""
        self.records.append(record)
        self._chains[chain.aggregate_id] = chain
        self.chains[chain.aggregate_id] = chain

    def payload(self, seq: int) -> str | None:
        """The event's JSON as the feed read it, if the feed passed it on."""
        return self._payloads.get(seq)

    # -- loading -------------------------------------------------------------------------------

    def _load_cases(self, case_ids: Collection[UUID]) -> None:
        wanted = [i for i in case_ids if i not in self._cases]
        found = self._source.load_cases(wanted) if wanted else {}
        for case_id in wanted:
            case = found.get(case_id)
            self._cases[case_id] = case
            if case is not None:
                self._stored_deadlines[case_id] = case.deadlines

    def _load_notifiers(self, notifier_ids: Collection[UUID]) -> None:
        wanted = [i for i in notifier_ids if i not in self._notifiers]
        found = self._source.load_notifiers(wanted) if wanted else {}
        self._notifiers.update({i: found.get(i) for i in wanted})

    def _load_chains(self, aggregate_ids: Collection[UUID]) -> None:
        wanted = [i for i in aggregate_ids if i not in self._chains]
        found = self._source.load_chains(wanted) if wanted else {}
        self._chains.update({i: found.get(i) for i in wanted})
