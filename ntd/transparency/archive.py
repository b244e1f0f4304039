"""The redacted public archive of notices, in the manner of the Lumen database: per notice, what
the public may see — who notified (the organisation), on which right, why, when, what was
decided and on which grounds, how many listings — and no personal data. Names, emails and
signatures of people are never copied; sellers appear under a keyed pseudonym; a listing's URL
shrinks to its marketplace's host; free texts (facts, explanations, messages) stay out.

What is copied is an allow-list: a field is public only if this module names it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from domain.lifecycle import TRANSITIONS, State, Step
from ntd.transparency.source import day, payload, reasons
from projections.models import AuditRow

DECISIONS = {
    "taken_down": "taken_down",
    "takedown_confirmed": "takedown_confirmed",
    "declined": "declined",
    "takedown_reversed": "takedown_reversed",
    "appeal_upheld": "appeal_upheld",
    "appeal_rejected": "appeal_rejected",
}
"""The case events that decide, by event type: the archive shows a listing's latest."""
STEPS = frozenset(step.value for step in Step)


@dataclass
class Listing:
    """One listing of a notice, as the public sees it."""

    marketplace: str
    seller: str
    state: State = State.FILED
    decision: str | None = None
    ground: str | None = None
    legal_ground: str | None = None
    decided_on: date | None = None
    counter_noticed: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "marketplace": self.marketplace,
            "seller": self.seller,
            "state": self.state.value,
            "decision": self.decision,
            "ground": self.ground,
            "legal_ground": self.legal_ground,
            "decided_on": self.decided_on.isoformat() if self.decided_on else None,
            "counter_noticed": self.counter_noticed,
        }


@dataclass
class Notice:
    """A notice: its filing's public facts and its listings, by case."""

    notice_id: str
    notifier_id: str
    right_id: str
    reason_code: str
    source_type: str
    lane: str
    filed_on: date
    listings: dict[UUID, Listing] = field(default_factory=dict)


@dataclass
class _Parties:
    notifiers: dict[str, dict[str, str]] = field(default_factory=dict)
    rights: dict[str, dict[str, str]] = field(default_factory=dict)


class Pseudonyms:
    """A seller's stable, keyed pseudonym: HMAC-SHA256 of its marketplace and id under the
    archive key, so the same seller reads the same in every export made with that key, and
    nobody without the key can test a guess."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, marketplace: str, seller_id: str) -> str:
        message = f"{marketplace}\x1f{seller_id}".encode()
        return "seller-" + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]


def host(url: str) -> str:
    """The marketplace's host of a listing URL (no path, query, user or port)."""
    try:
        return (urlsplit(url).hostname or "").lower() or "unknown"
    except ValueError:
        return "unknown"


def notices(rows: Iterable[AuditRow], pseudonym: Pseudonyms) -> Iterator[dict[str, Any]]:
    """A public record per notice, in the order notices were filed. Holds a small record per
    case until the trail is read (a later event may still decide an early notice)."""
    parties = _Parties()
    kept: dict[str, Notice] = {}
    case_notice: dict[UUID, Notice] = {}
    for row in rows:
        data = payload(row)
        if row.aggregate_type == "notifier":
            _notifier(row, data, parties)
        elif row.aggregate_type == "case" and row.event_type == "filed":
            notice = _filed(row, data, kept, pseudonym)
            case_notice[row.aggregate_id] = notice
        elif row.aggregate_type == "case" and row.aggregate_id in case_notice:
            _decided(row, data, case_notice[row.aggregate_id].listings[row.aggregate_id])
    for notice in kept.values():
        yield _public(notice, parties)


def _notifier(row: AuditRow, data: dict[str, Any], parties: _Parties) -> None:
    notifier = str(row.aggregate_id)
    if row.event_type == "registered":
        parties.notifiers[notifier] = {
            "name": str(data.get("name", "")),
            "kind": str(data.get("kind", "")),
        }
    elif row.event_type == "right_registered":
        parties.rights[str(data.get("right_id"))] = {
            "type": str(data.get("right_type", "")),
            "jurisdiction": str(data.get("jurisdiction", "")).upper(),
        }


def _filed(
    row: AuditRow, data: dict[str, Any], kept: dict[str, Notice], pseudonym: Pseudonyms
) -> Notice:
    notice_id = str(data.get("notice_id"))
    notice = kept.get(notice_id)
    if notice is None:
        notice = kept[notice_id] = Notice(
            notice_id=notice_id,
            notifier_id=str(data.get("notifier_id")),
            right_id=str(data.get("right_id")),
            reason_code=str(data.get("reason_code", "")),
            source_type=str(data.get("source_type", "")),
            lane=str(data.get("lane", "")),
            filed_on=day(row.occurred_at),
        )
    listing = data.get("listing") or {}
    marketplace = str(listing.get("marketplace", ""))
    notice.listings[row.aggregate_id] = Listing(
        marketplace=host(str(listing.get("url", ""))),
        seller=pseudonym(marketplace, str(listing.get("seller_id", ""))),
    )
    return notice


def _decided(row: AuditRow, data: dict[str, Any], listing: Listing) -> None:
    step = data.get("step")
    if step in STEPS:
        listing.state = TRANSITIONS.get((Step(step), listing.state), listing.state)
    if row.event_type == "counter_noticed":
        listing.counter_noticed = True
    stated = reasons(row)
    if row.event_type in DECISIONS and stated is not None:
        listing.decision = DECISIONS[row.event_type]
        listing.ground = str(stated.get("ground", "")) or None
        listing.legal_ground = str(stated.get("legal_ground", "")) or None
        listing.decided_on = day(row.occurred_at)


def _public(notice: Notice, parties: _Parties) -> dict[str, Any]:
    listings = list(notice.listings.values())
    states: dict[str, int] = {}
    for listing in listings:
        states[listing.state.value] = states.get(listing.state.value, 0) + 1
    decided = [x.decided_on for x in listings if x.decided_on is not None]
    notifier = parties.notifiers.get(notice.notifier_id, {"name": "", "kind": ""})
    right = parties.rights.get(notice.right_id, {"type": "", "jurisdiction": ""})
    return {
        "notice_id": notice.notice_id,
        "notifier": {"name": notifier["name"], "kind": notifier["kind"]},
        "right": {"type": right["type"], "jurisdiction": right["jurisdiction"]},
        "reason_code": notice.reason_code,
        "source_type": notice.source_type,
        "lane": notice.lane,
        "filed_on": notice.filed_on.isoformat(),
        "last_decided_on": max(decided).isoformat() if decided else None,
        "counts": {
            "listings": len(listings),
            "counter_notices": sum(x.counter_noticed for x in listings),
            "by_state": dict(sorted(states.items())),
        },
        "listings": [x.public() for x in listings],
    }
