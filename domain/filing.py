"""Filing a notice: which case each listing goes to, and what a notice must satisfy.

The application service (`NtdApplication.file_notice`) reads the notifier and the listings'
claims and cases, asks this module what to do and saves the result; a re-filed notice finds its
open cases by their stable ids, so filing is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.case import Case, Lane, Listing
from domain.listing_claim import ListingClaim
from domain.notice import NoticeRefused, NoticeSubmission
from domain.notifier import Notifier, RightStatus
from domain.rules import Rules
from domain.values import SYSTEM, Actor, ActorKind, former_id, stable_id


@dataclass(frozen=True)
class FiledCase:
    """One listing of a filed notice and the case that now holds it."""

    case_id: UUID
    marketplace: str
    listing_id: str
    already_open: bool


@dataclass(frozen=True)
class FilingReceipt:
    """The acknowledgement a notifier gets: which case each listing is in."""

    notice_id: UUID
    cases: tuple[FiledCase, ...]
    lane: Lane

    @property
    def new_case_ids(self) -> list[UUID]:
        """Cases this filing opened (re-filed listings point to their open case instead)."""
        return [c.case_id for c in self.cases if not c.already_open]


def claim_ids(notifier_id: UUID, listing: Listing) -> tuple[UUID, UUID | None]:
    """The listing's claim id, and the id it had before ids were collision-free if it differs."""
    key = (notifier_id, listing.marketplace, listing.listing_id)
    return ListingClaim.id_for(*key), ListingClaim.former_id_for(*key)


def case_ids(notice_id: UUID, listing: Listing) -> tuple[UUID, UUID | None]:
    """A case's id follows from its notice and listing, so a re-filed notice finds its cases;
    and the id it had before ids were collision-free, if it differs."""
    key = ("case", str(notice_id), listing.marketplace, listing.listing_id)
    return stable_id(*key), former_id(*key)


def known_claim(known: dict[UUID, Any], notifier_id: UUID, listing: Listing) -> ListingClaim | None:
    """The listing's claim among `known`: under its id, else under its former id. A listing
    alike may share that one (values.former_id): it answers for the listing of the case it
    holds (loaded into `known`) or, when free, for the listing it was opened for."""
    claim_id, former = claim_ids(notifier_id, listing)
    claim = known.get(claim_id)
    if claim is None and former is not None:
        claim = known.get(former)
        if isinstance(claim, ListingClaim):
            held = known.get(claim.open_case_id) if claim.open_case_id else None
            about: Any = held.listing if isinstance(held, Case) else claim
            if (about.marketplace, about.listing_id) != (listing.marketplace, listing.listing_id):
                return None
    return claim if isinstance(claim, ListingClaim) else None


def known_case(known: dict[UUID, Any], notice_id: UUID, listing: Listing) -> Any:
    """What is stored under the case id of this notice and listing: under its id, or under its
    former id if that is a case of this very notice and listing (values.former_id)."""
    case_id, former = case_ids(notice_id, listing)
    found = known.get(case_id)
    if found is None and former is not None:
        found = known.get(former)
        if isinstance(found, Case) and (
            found.notice_id != notice_id
            or (found.listing.marketplace, found.listing.listing_id)
            != (listing.marketplace, listing.listing_id)
        ):
            return None
    return found


def ids_to_read(submission: NoticeSubmission) -> list[UUID]:
    """The notifier, and every id a listing's claim or (for a client's notice id) case may be
    stored under."""
    notice_id = submission.notice_id
    ids = [submission.notifier_id]
    for listing in submission.listings:
        ids += (i for i in claim_ids(submission.notifier_id, listing) if i is not None)
        if notice_id is not None:
            ids += (i for i in case_ids(notice_id, listing) if i is not None)
    return ids


def cases_held_under_former_ids(
    submission: NoticeSubmission, loaded: dict[UUID, Any]
) -> list[UUID]:
    """Cases held by claims found under former ids: `known_claim` reads their listings."""
    return [
        claim.open_case_id
        for listing in submission.listings
        if (former := claim_ids(submission.notifier_id, listing)[1]) is not None
        and isinstance(claim := loaded.get(former), ListingClaim)
        and claim.open_case_id is not None
    ]


def check_notifier(
    submission: NoticeSubmission, notifier: Notifier, now: datetime, rules: Rules
) -> None:
    """Refuse, naming every problem, a notice its notifier may not file now."""
    problems = []
    most = rules.max_listings_per_notice
    if len(submission.listings) > most:
        problems.append(
            f"listings: a notice names at most {most} listings, "
            f"this one names {len(submission.listings)}"
        )
    if notifier.is_suspended(now):
        problems.append(f"notifier_id: notifier is suspended until {notifier.suspended_until}")
    right = notifier.rights.get(submission.right_id)
    if right is None:
        problems.append(f"right_id: notifier has no right {submission.right_id}")
    elif right.status is not RightStatus.VERIFIED:
        status = right.status.value
        problems.append(f"right_id: right {right.right_id} is {status}, not verified")
    if problems:
        raise NoticeRefused(problems)


def open_cases(
    submission: NoticeSubmission,
    notifier: Notifier,
    known: dict[UUID, Any],
    now: datetime,
    take_down_at_once: Callable[[Case], None],
) -> tuple[FilingReceipt, list[Aggregate]]:
    """One case per listing (or the listing's open case), each with its claim; a trusted
    notifier's new cases are taken down at once. Returns the receipt and what to save."""
    notice_id = submission.notice_id or uuid4()
    lane = Lane.TRUSTED if notifier.in_trusted_lane else Lane.NORMAL
    right_type = notifier.rights[submission.right_id].right_type
    actor = Actor(kind=ActorKind.NOTIFIER_USER, id=submission.submitted_by)
    filed: list[FiledCase] = []
    pending: list[Aggregate] = []
    for listing in submission.listings:
        claim = known_claim(known, notifier.id, listing)
        if claim is not None and claim.open_case_id is not None:
            filed.append(
                FiledCase(claim.open_case_id, listing.marketplace, listing.listing_id, True)
            )
            continue
        existing = known_case(known, notice_id, listing)
        if isinstance(existing, Case):
            if existing.notifier_id != notifier.id:
                raise NoticeRefused([f"notice_id: {notice_id} is another notifier's notice"])
            filed.append(FiledCase(existing.id, listing.marketplace, listing.listing_id, True))
            continue
        case = Case.file(
            case_ids(notice_id, listing)[0],
            notice_id,
            notifier.id,
            submission.right_id,
            right_type,
            listing,
            submission.reason_code,
            submission.explanation,
            submission.evidence,
            lane,
            actor,
            now,
            submission.automated_detection,
        )
        if claim is None:
            claim = ListingClaim.open(
                notifier.id, listing.marketplace, listing.listing_id, case.id, SYSTEM, now
            )
        else:
            claim.claim(case.id, SYSTEM, now)
        if lane is Lane.TRUSTED:
            take_down_at_once(case)
        pending += [case, claim]
        filed.append(FiledCase(case.id, listing.marketplace, listing.listing_id, False))
    return FilingReceipt(notice_id, tuple(filed), lane), pending
