"""Statements of reasons in the shape the EU Transparency Database (DSA Art. 24(5)) accepts:
one per restrictive decision — a listing taken down, a seller's account suspended — built from
the audit trail. The rules are those of the database's API v2 (docs/transparency.md names
their source); `Statement` enforces the ones ntd's statements could break, so a decision that
cannot be stated validly is reported, never exported broken."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, NamedTuple, Self, get_args
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from domain.values import CATEGORY_KEYWORD, RightType, Visibility, problem_text
from ntd.transparency.source import day, payload, reasons, within
from projections.models import AuditRow

BATCH = 100
"""Statements per call of the database's batch endpoint (`statements: between:1,100`)."""

EEA_CODE = Literal[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
]  # fmt: skip
"""A country a territorial scope may name (the database's EUROPEAN_COUNTRY_CODES: the EEA)."""
EEA: tuple[str, ...] = get_args(EEA_CODE)
FIRST_CONTENT_DAY, FIRST_APPLICATION_DAY, LAST_DAY = (
    date(2000, 1, 1),
    date(2020, 1, 1),
    date(2038, 1, 1),
)
"""The database's date bounds: content from 2000, decisions from 2020, nothing after 2038-01-01."""
PUID = r"^[A-Za-z0-9_-]+$"

RESTRICTIONS = {("case", "taken_down"), ("seller", "suspended")}
"""The decisions that restrict someone, by (aggregate type, event type): a takedown disables a
listing, a suspension an account. Confirming a takedown or rejecting an appeal keeps a
restriction already stated; a refusal, reversal or upheld appeal restricts nothing."""

EXPLANATION = {
    "counterfeit": "The listing offers goods that the holder of the notified trademark "
    "identified as counterfeit.",
    "trademark_misuse": "The listing uses the notified trademark without its holder's consent.",
    "copyright_copy": "The listing reproduces a work protected by the notified copyright "
    "without its holder's consent.",
    "design_copy": "The listing offers goods that copy the notified registered design.",
    "patent_infringement": "The listing offers goods that infringe the notified patent.",
    "gi_misuse": "The listing misuses the notified protected geographical indication.",
}
"""Why the content is illegal, by the notice's reason code (the explanation the database asks
for beside the legal ground)."""
REVIEWED = " The notice was reviewed and found substantiated before the listing was disabled."

SUSPENSION_GROUND = (
    "Repeat-infringer policy of the platform's terms (DSA Art. 23(1)): the accounts of sellers "
    "whose listings were repeatedly taken down as manifestly illegal are suspended."
)

Text500 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Text2000 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Text5000 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
YesNo = Literal["Yes", "No"]


def _keyword(value: str) -> str:
    if value not in KEYWORDS:
        raise ValueError(f"{value!r} is not a keyword ntd states (one per right type)")
    return value


KEYWORDS = frozenset(CATEGORY_KEYWORD.values())
"""The database's keywords for the rights ntd knows, all in its list (KEYWORD_*_INFRINGEMENT)."""
Keyword = Annotated[str, AfterValidator(_keyword)]


class Statement(BaseModel):
    """One statement as the database's API accepts it (the fields ntd fills; absent ones are
    left out of the JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision_visibility: (
        tuple[
            Literal[
                "DECISION_VISIBILITY_CONTENT_REMOVED",
                "DECISION_VISIBILITY_CONTENT_DISABLED",
                "DECISION_VISIBILITY_CONTENT_DEMOTED",
            ],
            ...,
        ]
        | None
    ) = None
    decision_account: Literal["DECISION_ACCOUNT_SUSPENDED"] | None = None
    account_type: Literal["ACCOUNT_TYPE_BUSINESS"] | None = None
    decision_ground: Literal[
        "DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    ]
    illegal_content_legal_ground: Text500 | None = None
    illegal_content_explanation: Text2000 | None = None
    incompatible_content_ground: Text500 | None = None
    incompatible_content_explanation: Text2000 | None = None
    incompatible_content_illegal: YesNo | None = None
    content_type: tuple[Literal["CONTENT_TYPE_PRODUCT"], ...] = Field(min_length=1)
    category: Literal["STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"]
    category_specification: tuple[Keyword, ...] | None = None
    territorial_scope: tuple[EEA_CODE, ...] = Field(min_length=1)
    content_date: date
    application_date: date
    end_date_account_restriction: date | None = None
    decision_facts: Text5000
    source_type: Literal[
        "SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION",
        "SOURCE_VOLUNTARY",
    ]  # fmt: skip
    automated_detection: YesNo
    automated_decision: Literal[
        "AUTOMATED_DECISION_FULLY",
        "AUTOMATED_DECISION_PARTIALLY",
        "AUTOMATED_DECISION_NOT_AUTOMATED",
    ]
    puid: str = Field(max_length=500, pattern=PUID)

    @model_validator(mode="after")
    def _combinations(self) -> Self:
        if not self.decision_visibility and self.decision_account is None:
            raise ValueError("a statement needs a restriction (visibility or account)")
        illegal = self.decision_ground == "DECISION_GROUND_ILLEGAL_CONTENT"
        needed = (
            ("illegal_content_legal_ground", "illegal_content_explanation")
            if illegal
            else ("incompatible_content_ground", "incompatible_content_explanation")
        )
        for name in needed:
            if getattr(self, name) is None:
                raise ValueError(f"{name} is required for {self.decision_ground}")
        _check_day("content_date", self.content_date, FIRST_CONTENT_DAY)
        _check_day("application_date", self.application_date, FIRST_APPLICATION_DAY)
        if self.content_date > self.application_date:
            raise ValueError("content_date is after application_date")
        end = self.end_date_account_restriction
        if end is not None:
            _check_day("end_date_account_restriction", end, self.application_date)
        return self

    def public(self) -> dict[str, Any]:
        """The JSON the API takes: every field ntd filled, dates as YYYY-MM-DD."""
        return self.model_dump(mode="json", exclude_none=True)


def _check_day(name: str, value: date, first: date) -> None:
    if not first <= value <= LAST_DAY:
        raise ValueError(f"{name} {value} is outside {first}..{LAST_DAY}, the database's range")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A restrictive decision that cannot be stated in the database's terms, and why."""

    puid: str
    problem: str


class CaseFacts(NamedTuple):
    """What a case's statements need from its filing."""

    right_type: str
    reason_code: str
    source_type: str
    automated_detection: bool
    filed_on: date


def puid(aggregate_id: UUID | str, version: int) -> str:
    """The statement's platform-unique id: the decision's aggregate and version, so every export
    of a decision names it the same (and the database refuses it twice)."""
    return f"ntd-{aggregate_id}-v{version}"


def statements(
    rows: Iterable[AuditRow], since: datetime | None = None, until: datetime | None = None
) -> Iterator[Statement | Skipped]:
    """A statement per restrictive decision made in [since, until), in the order they were made;
    holds only a few facts per case and seller, never the statements."""
    cases: dict[UUID, CaseFacts] = {}
    sellers: dict[UUID, date] = {}
    for row in rows:
        kind = (row.aggregate_type, row.event_type)
        if kind == ("case", "filed"):
            cases[row.aggregate_id] = _case_facts(row)
        elif kind == ("seller", "registered"):
            sellers[row.aggregate_id] = day(row.occurred_at)
        if kind not in RESTRICTIONS or not within(row.occurred_at, since, until):
            continue
        yield _statement(row, cases, sellers)


def _case_facts(row: AuditRow) -> CaseFacts:
    data = payload(row)
    return CaseFacts(
        right_type=str(data.get("right_type", "")),
        reason_code=str(data.get("reason_code", "")),
        source_type=str(data.get("source_type", "SOURCE_ARTICLE_16")),
        automated_detection=bool(data.get("automated_detection", False)),
        filed_on=day(row.occurred_at),
    )


def _statement(
    row: AuditRow, cases: dict[UUID, CaseFacts], sellers: dict[UUID, date]
) -> Statement | Skipped:
    key = puid(row.aggregate_id, row.version)
    try:
        if row.aggregate_type == "case":
            facts = cases.get(row.aggregate_id)
            if facts is None:
                return Skipped(key, "its case's filing is not in the audit trail")
            fields = _takedown(row, facts)
        else:
            fields = _suspension(row, sellers.get(row.aggregate_id, day(row.occurred_at)))
        if isinstance(fields, Skipped):
            return fields
        return Statement(puid=key, **fields)
    except ValidationError as error:
        return Skipped(key, "; ".join(problem_text(e) for e in error.errors()))


def _takedown(row: AuditRow, facts: CaseFacts) -> dict[str, Any] | Skipped:
    key = puid(row.aggregate_id, row.version)
    stated = reasons(row)
    if stated is None:
        return Skipped(key, "the takedown recorded no statement of reasons")
    shown = [v for v in stated.get("visibility", ()) if v != Visibility.NONE.value]
    if not shown or stated.get("ground") not in GROUND_FIELDS:
        return Skipped(key, "its statement of reasons restricts nothing")
    scope = _scope(stated.get("territorial_scope", ()))
    if not scope:
        return Skipped(key, "its territorial scope names no EEA country (outside the DSA)")
    return {
        "decision_visibility": tuple(shown),
        "decision_ground": stated["ground"],
        **_grounds(stated["ground"], stated.get("legal_ground", ""), _explanation(facts)),
        "content_type": ("CONTENT_TYPE_PRODUCT",),
        "category": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "category_specification": _keywords(facts.right_type),
        "territorial_scope": scope,
        "content_date": facts.filed_on,
        "application_date": day(row.occurred_at),
        "decision_facts": stated.get("facts", ""),
        "source_type": facts.source_type,
        "automated_detection": _yes(
            facts.automated_detection or bool(stated.get("automated_detection"))
        ),
        "automated_decision": stated.get("automated_decision", "AUTOMATED_DECISION_NOT_AUTOMATED"),
    }


def _suspension(row: AuditRow, known_since: date) -> dict[str, Any]:
    data = payload(row)
    until = data.get("until")
    by_system = row.actor.startswith("system:")
    strikes = int(data.get("live_strikes", 0))
    return {
        "decision_account": "DECISION_ACCOUNT_SUSPENDED",
        "account_type": "ACCOUNT_TYPE_BUSINESS",  # a marketplace's sellers are traders
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": SUSPENSION_GROUND,
        "incompatible_content_explanation": str(data.get("reason", "")),
        "incompatible_content_illegal": "Yes",  # the strikes are takedowns of illegal listings
        "content_type": ("CONTENT_TYPE_PRODUCT",),
        "category": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "territorial_scope": EEA,
        "content_date": known_since,
        "application_date": day(row.occurred_at),
        "end_date_account_restriction": day(until) if until else None,
        "decision_facts": f"The seller's account had {strikes} live strikes, each a final "
        "takedown of one of its listings after a notice, when it was suspended.",
        "source_type": "SOURCE_VOLUNTARY",  # the platform's own policy, not a notice
        "automated_detection": _yes(by_system),
        "automated_decision": "AUTOMATED_DECISION_FULLY"
        if by_system
        else "AUTOMATED_DECISION_NOT_AUTOMATED",
    }


GROUND_FIELDS = {
    "DECISION_GROUND_ILLEGAL_CONTENT": (
        "illegal_content_legal_ground",
        "illegal_content_explanation",
    ),
    "DECISION_GROUND_INCOMPATIBLE_CONTENT": (
        "incompatible_content_ground",
        "incompatible_content_explanation",
    ),
}
"""The ground of a restriction and the two texts the database requires with it."""


def _grounds(ground: str, legal: str, explanation: str) -> dict[str, str]:
    ground_field, explanation_field = GROUND_FIELDS[ground]
    return {ground_field: legal, explanation_field: explanation}


def _explanation(facts: CaseFacts) -> str:
    return (
        EXPLANATION.get(facts.reason_code, "The notified listing infringes the notified right.")
        + REVIEWED
    )


def _keywords(right_type: str) -> tuple[str, ...] | None:
    try:
        return (CATEGORY_KEYWORD[RightType(right_type)],)
    except ValueError:
        return None


def _scope(codes: Iterable[str]) -> tuple[str, ...]:
    """The EEA countries of a decision's territorial scope; all of them when it names none
    (ntd's decisions apply everywhere unless limited)."""
    given = tuple(codes)
    if not given:
        return EEA
    return tuple(code for code in given if code in EEA)


def _yes(flag: bool) -> str:
    return "Yes" if flag else "No"


def batches(items: Iterable[Statement]) -> Iterator[list[Statement]]:
    """The statements in batches of at most BATCH, as the batch endpoint takes them."""
    batch: list[Statement] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
