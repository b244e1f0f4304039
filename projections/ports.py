"""What each view needs from storage: the ports the handlers talk to, and the records they pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from domain.case import Authenticity, Deadline, State
from domain.values import Role
from projections.audit import AuditChain, AuditRecord
from projections.models import CaseSummary


@dataclass(frozen=True, slots=True)
class NotifierRecord:
    """A notifier as the read side keeps it."""

    notifier_id: UUID
    name: str
    in_trusted_lane: bool = False
    account_manager: str | None = None
    """The principal (`agent:ID`) assigned as the notifier's account manager, if any."""


@dataclass(frozen=True, slots=True)
class Breach:
    """A missed deadline, counted against the case's notifier."""

    seq: int
    case_id: UUID
    notifier_id: UUID
    deadline: Deadline
    due_at: datetime
    missed_at: datetime


@dataclass(frozen=True, slots=True)
class StepRecord:
    """Where a case stood after one of its events: what the figures as of a past moment read."""

    seq: int
    case_id: UUID
    notifier_id: UUID
    at: datetime
    state: State
    deadlines: frozenset[Deadline]
    """The kinds of the deadlines open after the event."""


class IdentificationStep(StrEnum):
    REQUESTED = "requested"
    ANSWERED = "answered"


@dataclass(frozen=True, slots=True)
class IdentificationRecord:
    """An identification request, or the notifier's answer to one."""

    seq: int
    case_id: UUID
    notifier_id: UUID
    step: IdentificationStep
    at: datetime
    asked_at: datetime
    """When the request (this one, or the one answered) was made."""
    verdict: Authenticity | None = None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A message of a case's conversation, as far as unread counts need it (not its text)."""

    seq: int
    case_id: UUID
    version: int
    """The case's version the message is: read marks count in versions of the case."""
    notifier_id: UUID
    author: str
    """The author's principal, `kind:id`."""
    role: Role | None
    posted_at: datetime


class CaseView(Protocol):
    """The case summary: one row per case, its open deadlines, and the rows appended for it
    (breaches, steps, identifications, messages)."""

    def case(self, case_id: UUID) -> CaseSummary | None:
        """The case as the view holds it now, or None."""
        ...

    def put_case(self, case: CaseSummary) -> None:
        """Store the case's new summary, open deadlines included."""
        ...

    def add_breach(self, breach: Breach) -> None:
        """Count a missed deadline."""
        ...

    def add_step(self, step: StepRecord) -> None:
        """Keep where the case stood after an event."""
        ...

    def add_identification(self, record: IdentificationRecord) -> None:
        """Keep an identification request or answer."""
        ...

    def add_message(self, message: MessageRecord) -> None:
        """Keep a message of the case's conversation."""
        ...


class NotifierView(Protocol):
    """Notifiers with their names and trusted-lane standing."""

    def notifier(self, notifier_id: UUID) -> NotifierRecord | None:
        """The notifier as the view holds it now, or None."""
        ...

    def put_notifier(self, notifier: NotifierRecord) -> None:
        """Store the notifier's new record."""
        ...


class AuditView(Protocol):
    """The audit trail: immutable rows, chained per aggregate."""

    def chain(self, aggregate_id: UUID) -> AuditChain | None:
        """The aggregate's chain (its parties and head), or None before its first row."""
        ...

    def append(self, record: AuditRecord, chain: AuditChain) -> None:
        """Add a row and move its chain's head to it."""
        ...

    def payload(self, seq: int) -> str | None:
        """The JSON payload of event `seq` exactly as its feed read it, if the feed passed it on
        (the row then keeps it instead of serialising the event again)."""
        ...


class Views(CaseView, NotifierView, AuditView, Protocol):
    """Every view one event may change; apply() hands the handlers one of these per batch."""
