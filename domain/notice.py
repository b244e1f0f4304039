"""Filing a notice: the submission as validated input, checked whole before anything is saved,
and the record of a notice filed under an id its notifier chose (`ClientNotice`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.case import Contact, Evidence, Listing, ReasonCode, SwornStatement
from domain.values import Actor, DomainError, EventSourced, identifier, problem_text, stable_id

ListingKey = tuple[str, str]
"""A listing as a notice names it: (marketplace, listing id)."""

MAX_EVIDENCE = 20
"""Evidence items one notice may carry: every case it opens keeps them all, so one notice of
300 listings with 1,000 items each grew the stores by 400 MB."""


class NoticeSubmission(BaseModel):
    """Everything a valid notice carries; one case is opened per listing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notifier_id: UUID
    right_id: UUID
    submitted_by: str = Field(min_length=1, max_length=200, description="the notifier's user")
    listings: tuple[Listing, ...] = Field(min_length=1, max_length=300)
    reason_code: ReasonCode
    explanation: str = Field(min_length=20, max_length=5000)
    evidence: tuple[Evidence, ...] = Field(min_length=1, max_length=MAX_EVIDENCE)
    contact: Contact
    # true or refused (the validator's words); the schema says so to API clients
    good_faith_statement: bool = Field(json_schema_extra={"const": True})
    accuracy_statement: bool = Field(json_schema_extra={"const": True})
    signature: str = Field(min_length=2, max_length=200)
    automated_detection: bool = False
    notice_id: UUID | None = Field(
        None,
        description="client-chosen id, scoped to the notifier: a retry naming the same listings "
        "returns the same cases; naming other listings is refused",
    )

    @field_validator("good_faith_statement", "accuracy_statement")
    @classmethod
    def _affirmed(cls, value: bool) -> bool:
        if not value:
            raise ValueError("must be affirmed (true)")
        return value

    @field_validator("submitted_by")
    @classmethod
    def _an_id(cls, value: str) -> str:
        return identifier(value, "the filer's id")

    @field_validator("listings", mode="before")
    @classmethod
    def _ids_as_given(cls, listings: Any) -> Any:
        """NFC ids (NFC and NFD spellings open one case), without controls or invisible-only
        ids; checked on the notice, not on the stored events, which replay as they were."""
        if not isinstance(listings, list | tuple):
            return listings
        return [_listing_ids(listing) for listing in listings]

    @field_validator("listings")
    @classmethod
    def _distinct(cls, listings: tuple[Listing, ...]) -> tuple[Listing, ...]:
        seen: set[tuple[str, str]] = set()
        for listing in listings:
            key = (listing.marketplace, listing.listing_id)
            if key in seen:
                where = f"{listing.marketplace}/{listing.listing_id}"
                raise ValueError(f"listing {where} appears twice")
            seen.add(key)
        return listings

    @property
    def listing_keys(self) -> tuple[ListingKey, ...]:
        """The listings named, in order, as (marketplace, listing id)."""
        return tuple((x.marketplace, x.listing_id) for x in self.listings)

    @property
    def sworn(self) -> SwornStatement:
        """What the notifier declared and signed, as each case keeps it."""
        return SwornStatement(
            submitted_by=self.submitted_by,
            contact=self.contact,
            good_faith_statement=self.good_faith_statement,
            accuracy_statement=self.accuracy_statement,
            signature=self.signature,
        )


LISTING_IDS = {"marketplace": "marketplace", "listing_id": "listing_id", "seller_id": "seller_id"}


def _listing_ids(listing: Any) -> Any:
    if isinstance(listing, Listing):
        listing = listing.model_dump()
    if not isinstance(listing, Mapping):
        return listing
    given = dict(listing)
    for key, what in LISTING_IDS.items():
        if isinstance(given.get(key), str):
            given[key] = identifier(given[key], what)
    return given


class ClientNotice(EventSourced):
    """A notice filed under an id its notifier chose, and the listings it named.

    The id a client gives makes a retry safe, but only a retry: the same id naming other
    listings is a different notice, and adding its listings to the first one would silently
    merge two notices. Cases are found by (notice, listing), so they cannot tell which listings
    a notice left out, nor that a notice with entirely new listings re-uses an id; this record,
    stored under the notice's own id in the same save as its cases, can. Its id is derived from
    the notifier and the client's id, so two notifiers using the same client id never meet, and
    two filings racing under one id collide on it (the loser retries and is answered by it).
    Internal bookkeeping, like the listing claims: never published."""

    def __init__(
        self, notifier_id: UUID, client_notice_id: UUID, listings: tuple[ListingKey, ...]
    ) -> None:
        self.notifier_id = notifier_id
        self.client_notice_id = client_notice_id
        self.listings = listings

    class Filed(EventSourced.Created):
        notifier_id: UUID
        client_notice_id: UUID
        listings: tuple[ListingKey, ...]

    @staticmethod
    def id_for(notifier_id: UUID, client_notice_id: UUID) -> UUID:
        """The stored id of a notice its notifier named: the cases' `notice_id`."""
        return stable_id("notice", str(notifier_id), str(client_notice_id))

    @classmethod
    def file(
        cls,
        notifier_id: UUID,
        client_notice_id: UUID,
        listings: tuple[ListingKey, ...],
        actor: Actor,
        at: datetime,
    ) -> ClientNotice:
        """Record the first filing under the client's id."""
        return cls.start(
            cls.Filed,
            cls.id_for(notifier_id, client_notice_id),
            actor,
            at,
            notifier_id=notifier_id,
            client_notice_id=client_notice_id,
            listings=listings,
        )

    def refusal(self, listings: Iterable[ListingKey]) -> str | None:
        """Why a notice naming `listings` may not be filed under this id; None when it names
        the same listings (in any order): a retry."""
        return reused(self.client_notice_id, self.listings, tuple(listings))


def reused(
    client_notice_id: UUID,
    earlier: tuple[ListingKey, ...],
    now: tuple[ListingKey, ...],
    complete: bool = True,
) -> str | None:
    """The one problem of a client's notice id re-used for other listings, naming the
    difference; None if the listings are the same. `complete` is False when only some of the
    earlier listings are known (a notice filed before they were recorded): none is missing."""
    before, after = set(earlier), set(now)
    added = [key for key in now if key not in before]
    missing = [key for key in earlier if key not in after] if complete else []
    if not added and not missing:
        return None
    changes = (("added", added), ("missing", missing))
    differences = [f"{what}: {_names(keys)}" for what, keys in changes if keys]
    used = "listings" if complete else "listings including"
    return (
        f"notice_id: {client_notice_id} was already used for {used} {_names(earlier)}; "
        f"this notice names {_names(now)} ({'; '.join(differences)})"
    )


def _names(keys: Iterable[ListingKey], most: int = 5) -> str:
    named = [f"{marketplace}/{listing_id}" for marketplace, listing_id in keys]
    more = f" and {len(named) - most} more" if len(named) > most else ""
    return ", ".join(named[:most]) + more


class NoticeRefused(DomainError):
    """A notice that cannot be accepted; one problem per missing or wrong element."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"notice refused ({count}): " + "; ".join(problems))


def parse_notice(data: Any) -> NoticeSubmission:
    """Validate raw input (e.g. parsed JSON) into a submission, or refuse it naming each problem."""
    try:
        return NoticeSubmission.model_validate(data)
    except ValidationError as error:
        errors: list[Any] = [e for e in error.errors() if not _miscounted(e)]
        errors += _uncounted(data, errors)
        raise NoticeRefused([_describe(e) for e in errors]) from None


def _miscounted(error: Any) -> bool:
    """A length error pydantic reports only because it counted after dropping invalid items."""
    ctx, given = error.get("ctx") or {}, error.get("input")
    if "actual_length" not in ctx or not isinstance(given, list | tuple):
        return False
    if error["type"] == "too_short":
        return len(given) >= ctx["min_length"]
    return error["type"] == "too_long" and len(given) <= ctx["max_length"]


def _uncounted(data: Any, errors: list[Any]) -> list[dict[str, Any]]:
    """Too-long collections pydantic let pass because some of their items were invalid."""
    if not isinstance(data, Mapping):
        return []
    flagged = {e["loc"] for e in errors if e["type"] == "too_long"}
    missed: list[dict[str, Any]] = []
    for name, field in NoticeSubmission.model_fields.items():
        given = data.get(name)
        most = next((m.max_length for m in field.metadata if hasattr(m, "max_length")), None)
        if most is None or not isinstance(given, list | tuple) or (name,) in flagged:
            continue
        if len(given) > most:
            message = f"should have at most {most} items, not {len(given)}"
            ctx = {"max_length": most}
            missed.append(
                {"type": "too_long", "loc": (name,), "msg": message, "input": given, "ctx": ctx}
            )
    return missed


def _describe(error: Any) -> str:
    if error["type"] == "too_long" and error["loc"] == ("listings",):
        most = (error.get("ctx") or {}).get("max_length", 300)
        message = f"a notice names at most {most} listings, this one names {len(error['input'])}"
        return f"listings: {message}"
    if error["type"] == "missing":
        error = {**error, "msg": "missing (required)"}
    return problem_text({**error, "loc": error["loc"] or ("notice",)})
