"""The portal's forms: posted fields and uploaded CSV into the project's own models.

Each parser either returns the model the application service takes or raises `FormInvalid`
naming every bad field. The rules stay with the models (`parse_notice`, `StatementOfReasons`,
`Evidence`, ...) so a form says what the CLI and the API say for the same mistake; only the
shape of the input (lines, CSV rows, checkboxes) is read here.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from pydantic import ValidationError

from domain.case import Authenticity, Evidence, IdentificationItem, ReasonCode
from domain.notice import NoticeRefused, NoticeSubmission, parse_notice
from domain.values import (
    Actor,
    AutomatedDecision,
    DecisionGround,
    RightType,
    StatementOfReasons,
    Visibility,
    problem_message,
    problem_text,
)
from ntd import reasons
from ntd.config import parse_time

MAX_LISTINGS = NoticeSubmission.model_fields["listings"].metadata[-1].max_length
"""A notice names at most this many listings (300): the CSV upload's limit."""
LISTING_COLUMNS = ("marketplace", "listing_id", "url", "seller_id")
GENERAL = "_form"
"""The key of problems that belong to no one field."""
VERSION_MAX = 2**31 - 1
"""No case reaches it; a larger number would not even fit the stores' integer columns."""


class Fields(Protocol):
    """Posted form data (Starlette's FormData has this shape)."""

    def get(self, key: str, /) -> Any: ...

    def getlist(self, key: str, /) -> list[Any]: ...


@dataclass
class FormInvalid(Exception):
    """A form with problems: messages by field name, in the order found."""

    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise self

    def __str__(self) -> str:
        return "; ".join(f"{k}: {m}" for k, ms in self.errors.items() for m in ms)


def text(form: Fields, name: str) -> str:
    """A text field, surrounding blanks removed ('' when absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def checked(form: Fields, name: str) -> bool:
    """Whether a checkbox was ticked (an unticked box is not posted at all)."""
    return text(form, name) not in ("", "0", "false", "off")


def uploaded(form: Fields, name: str) -> str | None:
    """An uploaded file's text (UTF-8, a byte-order mark ignored); None when none was chosen.
    The app's body-size cap bounds what is read."""
    value = form.get(name)
    if value is None or isinstance(value, str) or not getattr(value, "filename", ""):
        return None
    data = value.file.read()
    try:
        return str(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise FormInvalid({name: ["the file is not UTF-8 text"]}) from None


def problems_of(error: ValidationError, prefix: str = "") -> FormInvalid:
    """A pydantic error as form problems, keyed by the dotted location (`contact.email`)."""
    found = FormInvalid()
    for e in error.errors():
        where = ".".join(str(part) for part in e["loc"])
        message = "missing (required)" if e["type"] == "missing" else problem_message(e)
        found.add(prefix + where if where else GENERAL, message)
    return found


# -- a notice ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListingSource:
    """Where a listing of the form came from, so a problem names the row the user wrote."""

    field: str
    row: int


def listing_rows(
    source: str, field_name: str, bad: FormInvalid
) -> tuple[list[dict[str, str]], list[ListingSource]]:
    """Listings from CSV text, one per row (marketplace, listing_id, url, seller_id); a first
    row naming those columns is a header and may order them. A row with the wrong number of
    cells is a problem of that row, added to `bad` (the other rows are still checked); blank
    rows are skipped."""
    rows = [
        (n, row)
        for n, row in enumerate(csv.reader(io.StringIO(source)), 1)
        if any(map(str.strip, row))
    ]
    columns = list(LISTING_COLUMNS)
    if rows and {c.strip().lower() for c in rows[0][1]} >= set(LISTING_COLUMNS):
        columns = [c.strip().lower() for c in rows[0][1]]
        rows = rows[1:]
    found, where = [], []
    for n, row in rows:
        if len(row) != len(columns):
            bad.add(
                field_name,
                f"row {n}: expected {len(columns)} cells ({','.join(columns)}), found {len(row)}",
            )
            continue
        cells = {name: cell.strip() for name, cell in zip(columns, row, strict=True)}
        found.append({name: cells[name] for name in LISTING_COLUMNS})
        where.append(ListingSource(field_name, n))
    return found, where


def evidence_lines(source: str, field_name: str) -> list[dict[str, str]]:
    """Evidence, one `KIND:REFERENCE:SHA256` per line (the CLI's --evidence)."""
    found, bad = [], FormInvalid()
    for line in filter(None, (raw.strip() for raw in source.splitlines())):
        kind, _, rest = line.partition(":")
        reference, _, sha256 = rest.rpartition(":")
        if not (kind and reference and sha256):
            bad.add(field_name, f"{line!r}: expected KIND:REF:SHA256")
            continue
        found.append({"kind": kind, "reference": reference, "sha256": sha256})
    bad.raise_if_any()
    return found


def notice(form: Fields, actor: Actor) -> NoticeSubmission:
    """The notice form (and its CSV of listings) as a submission, or every problem at once:
    the shape problems of this form and what `parse_notice` finds, by field; a listing's
    problem names the row it came from."""
    bad = FormInvalid()
    listings: list[dict[str, str]] = []
    sources: list[ListingSource] = []
    for name, source in (("listings", text(form, "listings")), ("listings_csv", None)):
        try:
            body = source if source is not None else uploaded(form, name)
        except FormInvalid as problem:
            bad.errors |= problem.errors
            continue
        if body:
            found, where = listing_rows(body, name, bad)
            listings += found
            sources += where
    evidence: list[dict[str, str]] = []
    try:
        evidence = evidence_lines(text(form, "evidence"), "evidence")
    except FormInvalid as problem:
        bad.errors |= problem.errors
    data: dict[str, Any] = {
        "notifier_id": text(form, "notifier_id") or None,
        "right_id": text(form, "right_id") or None,
        "submitted_by": actor.id,  # who files is who is logged in, never a form field
        "listings": listings,
        "reason_code": text(form, "reason_code") or None,
        "explanation": text(form, "explanation"),
        "evidence": evidence,
        "contact": {"name": text(form, "contact_name"), "email": text(form, "contact_email")},
        "good_faith_statement": checked(form, "good_faith_statement"),
        "accuracy_statement": checked(form, "accuracy_statement"),
        "signature": text(form, "signature"),
        "automated_detection": checked(form, "automated_detection"),
    }
    if text(form, "notice_id"):
        data["notice_id"] = text(form, "notice_id")
    data = {k: v for k, v in data.items() if v is not None}
    try:
        submission = parse_notice(data)
    except NoticeRefused as refused:
        for said in refused.problems:
            key, message = _split_problem(said, sources)
            bad.add(key, message)
        raise bad from None
    bad.raise_if_any()
    return submission


ROW_PROBLEM = re.compile(r"^listings\.(\d+)(?:\.(\w+))?$")
EVIDENCE_PROBLEM = re.compile(r"^evidence\.(\d+)(?:\.(\w+))?$")
FORM_NAMES = {"contact.name": "contact_name", "contact.email": "contact_email"}


def _split_problem(problem: str, sources: Sequence[ListingSource]) -> tuple[str, str]:
    """`parse_notice`'s `where: message` as (form field, message); `listings.3.url` becomes
    the field the listing came from, the message naming its row and column."""
    where, _, message = problem.partition(": ")
    match = ROW_PROBLEM.match(where)
    if match and int(match.group(1)) < len(sources):
        source = sources[int(match.group(1))]
        column = f" {match.group(2)}" if match.group(2) else ""
        return source.field, f"row {source.row}{column}: {message}"
    match = EVIDENCE_PROBLEM.match(where)
    if match:
        column = f" {match.group(2)}" if match.group(2) else ""
        return "evidence", f"line {int(match.group(1)) + 1}{column}: {message}"
    if where == "notice":
        return GENERAL, message
    return FORM_NAMES.get(where, where.split(".")[0]), message


# -- decisions ------------------------------------------------------------------------------

GROUNDS = {g.name.lower(): g for g in DecisionGround}
VISIBILITIES = {v.name.lower(): v for v in Visibility}
AUTOMATION = {a.name.lower(): a for a in AutomatedDecision}


def statement_of_reasons(form: Fields, right_type: RightType, removal: bool) -> StatementOfReasons:
    """A decision's statement of reasons, with the defaults the law allows (ntd.reasons, as the
    CLI's options): only the facts are required."""
    bad = FormInvalid()
    facts = text(form, "facts")
    if not facts:
        bad.add("facts", "missing (required): the facts and circumstances relied on")
    ground = _pick(form, "ground", GROUNDS, bad)
    decision = _pick(form, "automated_decision", AUTOMATION, bad) or AutomatedDecision.NOT_AUTOMATED
    shown = []
    for value in form.getlist("visibility"):
        if value not in VISIBILITIES:
            bad.add("visibility", f"{value!r} is not one of {', '.join(VISIBILITIES)}")
        else:
            shown.append(VISIBILITIES[value])
    bad.raise_if_any()
    try:
        return reasons.statement(
            right_type,
            removal,
            facts,
            ground=ground,
            legal=text(form, "legal_ground") or None,
            visibility=shown,
            automated_detection=checked(form, "automated_detection"),
            automated_decision=decision,
            territory=[t.strip() for t in text(form, "territory").split(",") if t.strip()],
        )
    except ValidationError as error:
        raise _renamed(problems_of(error), {"territorial_scope": "territory"}) from None


def _pick(form: Fields, name: str, choices: dict[str, Any], bad: FormInvalid) -> Any:
    value = text(form, name)
    if not value:
        return None
    if value not in choices:
        bad.add(name, f"{value!r} is not one of {', '.join(choices)}")
        return None
    return choices[value]


def _renamed(found: FormInvalid, names: dict[str, str]) -> FormInvalid:
    renamed = FormInvalid()
    for key, messages in found.errors.items():
        head = key.split(".")[0]
        for message in messages:
            renamed.add(names.get(head, head), message)
    return renamed


def gather(*parts: Callable[[], Any]) -> tuple[Any, ...]:
    """Each part's value, every part's problems collected: a form names all at once."""
    bad, found = FormInvalid(), []
    for part in parts:
        try:
            found.append(part())
        except FormInvalid as problem:
            for key, messages in problem.errors.items():
                for message in messages:
                    bad.add(key, message)
    bad.raise_if_any()
    return tuple(found)


def required(form: Fields, name: str) -> str:
    """A text field that must not be blank."""
    value = text(form, name)
    if not value:
        raise FormInvalid({name: ["missing (required)"]})
    return value


def evidence(form: Fields, name: str = "evidence") -> list[Evidence]:
    """Evidence lines as the models, each line's problem named (the CLI's texts)."""
    found, bad = [], FormInvalid()
    for item in evidence_lines(text(form, name), name):
        try:
            found.append(Evidence(**item))
        except ValidationError as error:
            for message in _messages(error):
                bad.add(name, f"{item['kind']}:{item['reference']}: {message}")
    bad.raise_if_any()
    return found


SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def identification_items(form: Fields, name: str = "items") -> list[IdentificationItem]:
    """What an identification request asks to judge, `KIND:REFERENCE[:SHA256]` per line (the
    CLI's --item); the hash is the last part when it is 64 hex digits."""
    found, bad = [], FormInvalid()
    for line in filter(None, (raw.strip() for raw in text(form, name).splitlines())):
        kind, sep, rest = line.partition(":")
        if not sep or not rest:
            bad.add(name, f"{line!r}: expected KIND:REFERENCE")
            continue
        reference, _, last = rest.rpartition(":")
        sha256 = last if reference and SHA256.match(last) else None
        try:
            item = {"kind": kind, "reference": reference if sha256 else rest, "sha256": sha256}
            found.append(IdentificationItem.model_validate(item))
        except ValidationError as error:
            bad.add(name, f"{line!r}: {'; '.join(_messages(error))}")
    bad.raise_if_any()
    return found


def verdict(form: Fields) -> Authenticity:
    """The notifier's answer to an identification request."""
    value = text(form, "verdict")
    if value not in {a.value for a in Authenticity}:
        choices = ", ".join(a.value for a in Authenticity)
        raise FormInvalid({"verdict": [f"choose one of {choices}"]})
    return Authenticity(value)


def reason_codes() -> list[str]:
    return [r.value for r in ReasonCode]


def _messages(error: ValidationError) -> list[str]:
    return [problem_text(e) for e in error.errors()]


# -- filters ------------------------------------------------------------------------------


def optional_uuid(value: str, name: str, bad: FormInvalid) -> UUID | None:
    """An id from a query parameter, or None when blank; a bad one is a problem of `name`."""
    if not value.strip():
        return None
    try:
        return UUID(value.strip())
    except ValueError:
        bad.add(
            name,
            f"{value!r} is not an id (expected a UUID such as "
            "0b5f2c1e-7d3a-4e8b-9c61-2f4d5e6a7b8c)",
        )
        return None


def version_number(value: str) -> int | None:
    """A case version (1 ... VERSION_MAX) written in ASCII digits, or None: `str.isdigit`
    also takes '²' or '٣', which int() then refuses."""
    text = value.strip()
    if not (text.isascii() and text.isdecimal()) or len(text) > len(str(VERSION_MAX)):
        return None
    number = int(text)
    return number if 1 <= number <= VERSION_MAX else None


def optional_time(value: str, name: str, bad: FormInvalid) -> datetime | None:
    """A time from a query parameter (ISO, UTC by default, as the CLI's TIME), or None."""
    if not value.strip():
        return None
    try:
        return parse_time(value.strip())
    except ValueError as error:
        bad.add(name, str(error))
        return None


def values(form: Fields, names: Iterable[str]) -> dict[str, str]:
    """The posted text values to show again in a form that failed."""
    return {name: text(form, name) for name in names}
