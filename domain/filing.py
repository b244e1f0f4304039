"""Filing a notice: which case each listing goes to, and what a notice must satisfy.

The application service (`NtdApplication.file_notice`) reads the notifier and the listings'
claims and cases, asks this module what to do and saves the result; a re-filed notice finds its
open cases by their stable ids, so filing is idempotent.

A notice the client names (`NoticeSubmission.notice_id`) is stored under an id scoped to its
notifier (`ClientNotice.id_for`), so two notifiers choosing the same id never meet; its
`ClientNotice` record says which listings it named, so a retry returns its cases and the same
id naming other listings is refused. Cases filed before ids were scoped stay under the client's
id itself (their notice's former id) and are still found there.
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
from domain.notice import ClientNotice, NoticeRefused, NoticeSubmission, reused
from domain.notifier import Notifier, RightStatus
from domain.rules import Rules
from domain.values import SYSTEM, Actor, former_id, stable_id


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
    """The notice's stored id, the cases' `notice_id` (scoped to the notifier if it chose one)."""
    cases: tuple[FiledCase, ...]
    lane: Lane
    client_notice_id: UUID | None = None
    """The id the notifier chose, if it did."""

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
    """The notifier, every id a listing's claim may be stored under and, for a client's notice
    id, the notice's record and its cases."""
    notifier_id, client = submission.notifier_id, submission.notice_id
    ids = [notifier_id]
    for listing in submission.listings:
        ids += (i for i in claim_ids(notifier_id, listing) if i is not None)
    if client is not None:
        notice_id = ClientNotice.id_for(notifier_id, client)
        ids.append(notice_id)
        ids += (case_ids(notice_id, listing)[0] for listing in submission.listings)
    return ids


def cases_held_under_former_ids(
    submission: NoticeSubmission, loaded: dict[UUID, Any]
) -> list[UUID]:
    """Cases to read once `ids_to_read` is loaded: those held by claims found under former ids
    (`known_claim` reads their listings) and, when a client's notice id has no record, those a
    notice may have opened under its former id, the client's id itself (filed before notice
    ids were scoped to their notifier)."""
    held = [
        claim.open_case_id
        for listing in submission.listings
        if (former := claim_ids(submission.notifier_id, listing)[1]) is not None
        and isinstance(claim := loaded.get(former), ListingClaim)
        and claim.open_case_id is not None
    ]
    client = submission.notice_id
    if client is not None and ClientNotice.id_for(submission.notifier_id, client) not in loaded:
        for listing in submission.listings:
            held += (i for i in case_ids(client, listing) if i is not None)
    return held


def notice_id_for(
    submission: NoticeSubmission, notifier_id: UUID, known: dict[UUID, Any]
) -> tuple[UUID, bool]:
    """The id the notice's cases go under, and whether it is the first filing under a client's
    id (its record is to be saved); refuses a client's id re-used for other listings.

    Without a client id a notice is new. With one, its record answers. Failing that, cases this
    notifier filed under the client's id before ids were scoped answer as far as they go (the
    listings they name, not those they left out). Failing both, the notice is new."""
    client = submission.notice_id
    if client is None:
        return uuid4(), False
    scoped = ClientNotice.id_for(notifier_id, client)
    keys = submission.listing_keys
    record = known.get(scoped)
    if isinstance(record, ClientNotice):
        problem = record.refusal(keys)
        if problem:
            raise NoticeRefused([problem])
        return scoped, False
    earlier = tuple(
        key
        for listing, key in zip(submission.listings, keys, strict=True)
        if isinstance(case := known_case(known, client, listing), Case)
        and case.notifier_id == notifier_id
    )
    if earlier:
        problem = reused(client, earlier, keys, complete=False)
        if problem:
            raise NoticeRefused([problem])
        return client, False
    return scoped, True


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
    actor: Actor,
) -> tuple[FilingReceipt, list[Aggregate]]:
    """One case per listing (or the listing's open case), each with its claim; a trusted
    notifier's new cases are taken down at once. Returns the receipt and what to save."""
    notice_id, first = notice_id_for(submission, notifier.id, known)
    lane = Lane.TRUSTED if notifier.in_trusted_lane else Lane.NORMAL
    right_type = notifier.rights[submission.right_id].right_type
    sworn = submission.sworn
    filed: list[FiledCase] = []
    pending: list[Aggregate] = []
    if first and submission.notice_id is not None:
        keys = submission.listing_keys
        pending.append(ClientNotice.file(notifier.id, submission.notice_id, keys, SYSTEM, now))
    for listing in submission.listings:
        claim = known_claim(known, notifier.id, listing)
        if claim is not None and claim.open_case_id is not None:
            filed.append(
                FiledCase(claim.open_case_id, listing.marketplace, listing.listing_id, True)
            )
            continue
        existing = known_case(known, notice_id, listing)
        if isinstance(existing, Case):
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
            client_notice_id=submission.notice_id,
            sworn=sworn,
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
    receipt = FilingReceipt(notice_id, tuple(filed), lane, submission.notice_id)
    return receipt, pending
