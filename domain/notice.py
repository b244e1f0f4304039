"""Filing a notice: the submission as validated input, checked whole before anything is saved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.case import Evidence, Listing, ReasonCode
from domain.values import DomainError


class Contact(BaseModel):
    """The notifier's name and contact, as DMCA 512(c)(3) and DSA Art. 16(2) require."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class NoticeSubmission(BaseModel):
    """Everything a valid notice carries; one case is opened per listing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notifier_id: UUID
    right_id: UUID
    submitted_by: str = Field(min_length=1, max_length=200, description="the notifier's user")
    listings: tuple[Listing, ...] = Field(min_length=1, max_length=300)
    reason_code: ReasonCode
    explanation: str = Field(min_length=20, max_length=5000)
    evidence: tuple[Evidence, ...] = Field(min_length=1)
    contact: Contact
    good_faith_statement: bool
    accuracy_statement: bool
    signature: str = Field(min_length=2, max_length=200)
    automated_detection: bool = False
    notice_id: UUID | None = Field(None, description="client-chosen id; makes a retry idempotent")

    @field_validator("good_faith_statement", "accuracy_statement")
    @classmethod
    def _affirmed(cls, value: bool) -> bool:
        if not value:
            raise ValueError("must be affirmed (true)")
        return value

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
    where = ".".join(str(part) for part in error["loc"]) or "notice"
    message = str(error["msg"])
    if error["type"] == "too_long" and error["loc"] == ("listings",):
        most = (error.get("ctx") or {}).get("max_length", 300)
        message = f"a notice names at most {most} listings, this one names {len(error['input'])}"
    elif error["type"] == "missing":
        message = "missing (required)"
    return f"{where}: {message.removeprefix('Value error, ')}"
