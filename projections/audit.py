"""The audit trail's rows and hash chains: how a row is sealed and how a trail is verified.

A row's hash is sha256(prev_hash + canonical JSON of its content fields), where canonical JSON has
sorted keys, no spaces and UTF-8 text; prev_hash is the hash of the previous row of the same
aggregate (64 zeros for the first). An exported row (AuditRow.model_dump(mode="json")) can be
re-checked with sha256 alone: its fields serialise exactly as they were hashed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from hashlib import sha256
from typing import Any, NamedTuple
from uuid import UUID

from domain import catalog
from domain.case import Case
from domain.mapping import event_payload
from domain.seller import Seller
from domain.values import DomainEvent, StatementOfReasons
from projections.encoding import canonical_bytes, canonical_json, stamp
from projections.models import AuditQuery, AuditRow, AuditVerification, BrokenLink

GENESIS = "0" * 64
"""The prev_hash of the first row of every chain."""

CONTENT_FIELDS = (
    "seq",
    "event_id",
    "aggregate_type",
    "aggregate_id",
    "version",
    "notice_id",
    "notifier_id",
    "seller_id",
    "actor",
    "event_type",
    "occurred_at",
    "payload",
    "reasons",
)
"""The fields a row's hash covers, in the order AuditRecord stores them."""


class AuditRecord(NamedTuple):
    """An audit row as stored: plain values, the same in every adapter and in the hash."""

    seq: int
    event_id: str
    aggregate_type: str
    aggregate_id: str
    version: int
    notice_id: str | None
    notifier_id: str | None
    seller_id: str | None
    actor: str
    event_type: str
    occurred_at: str
    payload: str
    reasons: str | None
    prev_hash: str
    hash: str

    def content(self) -> tuple[Any, ...]:
        """The hashed fields' values."""
        return tuple(self[: len(CONTENT_FIELDS)])

    def to_row(self) -> AuditRow:
        """The public, typed form of the row."""
        return AuditRow(**self._asdict())


COLUMNS = AuditRecord._fields


@dataclass(frozen=True, slots=True)
class AuditChain:
    """One aggregate's chain: the parties its rows name and the head the next row links to."""

    aggregate_id: UUID
    aggregate_type: str
    notice_id: str | None
    notifier_id: str | None
    seller_id: str | None
    head_version: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS

    def advanced(self, record: AuditRecord) -> AuditChain:
        """The chain with `record` as its new head."""
        return AuditChain(
            self.aggregate_id,
            self.aggregate_type,
            self.notice_id,
            self.notifier_id,
            self.seller_id,
            record.version,
            record.seq,
            record.hash,
        )


def row_hash(prev_hash: str, content: Iterable[Any]) -> str:
    """The hash of a row from its predecessor's hash and its content values (CONTENT_FIELDS)."""
    body = canonical_bytes(dict(zip(CONTENT_FIELDS, content, strict=True)))
    return sha256(prev_hash.encode() + body).hexdigest()


@cache
def _event_type(event_class: type[Any]) -> str:
    return catalog.event_type(event_class)


@cache
def published_type(event_class: type[Any]) -> str | None:
    """`case`, `notifier` or `seller` for published events, None for internal ones."""
    return catalog.aggregate_type(event_class)


@cache
def _has_reasons(event_class: type[Any]) -> bool:
    """Whether the event records a statement of reasons (asking a pydantic model for an
    attribute it lacks is slow)."""
    return "reasons" in getattr(event_class, "model_fields", {})


def open_chain(event: DomainEvent, aggregate_type: str) -> AuditChain:
    """A new chain, naming the parties the aggregate's first event tells."""
    notice = notifier = seller = None
    if isinstance(event, Case.Filed):
        notice, notifier = str(event.notice_id), str(event.notifier_id)
        seller = event.listing.seller_id
    elif aggregate_type == "notifier":
        notifier = str(event.originator_id)
    elif isinstance(event, Seller.Registered):
        seller = event.seller_ref
    return AuditChain(event.originator_id, aggregate_type, notice, notifier, seller)


def seal(
    seq: int, event: DomainEvent, chain: AuditChain, payload: str | None = None
) -> AuditRecord:
    """The audit row of one event, linked to the head of its aggregate's chain; `payload` is the
    event's JSON as its feed read it (stored state or message value), when the feed has it."""
    reasons = event.reasons if _has_reasons(type(event)) else None  # type: ignore[attr-defined]
    aggregate_id, version = str(event.originator_id), event.originator_version
    content = (
        seq,
        f"{aggregate_id}:{version}",
        chain.aggregate_type,
        aggregate_id,
        version,
        chain.notice_id,
        chain.notifier_id,
        chain.seller_id,
        str(event.actor),
        _event_type(type(event)),
        stamp(event.timestamp),
        event_payload(event).decode() if payload is None else payload,
        canonical_json(reasons.model_dump(mode="json"))
        if isinstance(reasons, StatementOfReasons)
        else None,
    )
    return AuditRecord(*content, chain.head_hash, row_hash(chain.head_hash, content))


class Head(NamedTuple):
    """A chain's recorded head: the last row written to it."""

    version: int
    seq: int
    hash: str


@dataclass(slots=True)
class _Seen:
    version: int
    hash: str
    seq: int
    event_id: str


def verify(records: Iterable[AuditRecord], heads: Mapping[str, Head]) -> AuditVerification:
    """Walk rows in seq order against the recorded chain heads; report the lowest broken seq."""
    seen: dict[str, _Seen] = {}
    first: BrokenLink | None = None
    rows = 0
    for record in records:
        rows += 1
        if first is None:
            problem = _link_problem(record, seen.get(record.aggregate_id), heads)
            if problem:
                first = _broken(record.aggregate_id, record.seq, record.event_id, problem)
        seen[record.aggregate_id] = _Seen(record.version, record.hash, record.seq, record.event_id)
    ends = [_end_problem(aggregate, seen.get(aggregate), head) for aggregate, head in heads.items()]
    broken = [link for link in (first, *ends) if link is not None]
    worst = min(broken, key=lambda link: link.seq) if broken else None
    return AuditVerification(
        ok=worst is None, chains=len(seen.keys() | heads.keys()), rows=rows, first_broken=worst
    )


def _link_problem(record: AuditRecord, previous: _Seen | None, heads: Mapping[str, Head]) -> str:
    if row_hash(record.prev_hash, record.content()) != record.hash:
        return "hash mismatch (row edited)"
    if record.prev_hash != (previous.hash if previous else GENESIS):
        return "previous-hash mismatch (row deleted or inserted before it)"
    expected = previous.version + 1 if previous else 1
    if record.version != expected:
        return f"version gap: expected version {expected}, found {record.version}"
    head = heads.get(record.aggregate_id)
    if head is None:
        return "no recorded chain head for this aggregate (row inserted)"
    if record.version > head.version:
        return f"row beyond the recorded head, version {head.version} (row inserted at the end)"
    return ""


def _end_problem(aggregate: str, last: _Seen | None, head: Head) -> BrokenLink | None:
    if last is None:
        return _broken(aggregate, head.seq, None, "chain has no rows (rows deleted)")
    if last.version < head.version:
        return _broken(
            aggregate,
            head.seq,
            None,
            f"chain ends at version {last.version} but its head is version {head.version} "
            "(rows deleted at the end)",
        )
    if last.version == head.version and last.hash != head.hash:
        return _broken(
            aggregate, last.seq, last.event_id, "last row differs from the recorded head"
        )
    return None


def _broken(aggregate: str, seq: int, event_id: str | None, problem: str) -> BrokenLink:
    return BrokenLink(aggregate_id=aggregate, seq=seq, event_id=event_id, problem=problem)


def conditions(query: AuditQuery) -> list[tuple[str, str, Any]]:
    """The query as (column, operator, stored value) triples, ANDed; operators are =, >=, <."""
    wanted: list[tuple[str, str, Any]] = [
        (column, "=", None if value is None else str(value))
        for column, value in (
            ("aggregate_id", query.case_id),
            ("notice_id", query.notice_id),
            ("notifier_id", query.notifier_id),
            ("seller_id", query.seller_id),
            ("actor", query.actor),
            ("event_type", query.event_type),
        )
    ]
    wanted = [condition for condition in wanted if condition[2] is not None]
    if query.since is not None:
        wanted.append(("occurred_at", ">=", stamp(query.since)))
    if query.until is not None:
        wanted.append(("occurred_at", "<", stamp(query.until)))
    return wanted
