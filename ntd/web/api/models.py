"""The API's own request and answer bodies; everything else it takes or answers is one of the
project's models (domain, ntd.reads, projections.models)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.access import Grant
from domain.case import Authenticity, Case, Evidence, IdentificationItem, Lane
from domain.lifecycle import Deadline, State
from domain.values import ActorKind, AutomatedDecision, DecisionGround, Visibility


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- answers ---------------------------------------------------------------------------------


class CaseChanged(BaseModel):
    """What a command on a case answers: its new version, state and open deadlines."""

    case_id: UUID
    version: int
    state: State
    deadlines: dict[Deadline, datetime]

    @classmethod
    def of(cls, case: Case) -> CaseChanged:
        """The answer for the case a command left."""
        return cls(
            case_id=case.id, version=case.version, state=case.state, deadlines=dict(case.deadlines)
        )


class FiledCaseOut(BaseModel):
    case_id: UUID
    marketplace: str
    listing_id: str
    already_open: bool


class Receipt(BaseModel):
    """A filing's acknowledgement: one case per listing (re-filed listings name their open
    case, `already_open`)."""

    notice_id: UUID
    client_notice_id: UUID | None
    lane: Lane
    cases: list[FiledCaseOut]


class Me(BaseModel):
    """Who the token names and the roles it holds now."""

    principal: str
    kind: ActorKind
    grants: list[Grant]


class NotifierOut(BaseModel):
    notifier_id: UUID
    name: str


# -- decisions -------------------------------------------------------------------------------


class Decision(Body):
    """A decision's statement of reasons (DSA Art. 17). Only `facts` is required: the rest
    default as the CLI's do (a removal: illegal content, listing disabled; a refusal or
    reinstatement: not illegal, nothing restricted; the legal ground from the right type)."""

    facts: str = Field(description="the facts and circumstances relied on (≤ 5000 chars)")
    ground: DecisionGround | None = None
    legal_ground: str | None = None
    visibility: list[Visibility] = Field(default_factory=list)
    automated_detection: bool = False
    automated_decision: AutomatedDecision = AutomatedDecision.NOT_AUTOMATED
    territorial_scope: list[str] = Field(default_factory=list, description="ISO country codes")
    despite_genuine: bool = Field(
        False,
        description="decide so although the notifier answered `genuine` (removals only)",
    )


# -- the other commands: their fields, in order, are the command's arguments between the case
# id and the actor (see ntd/web/api/steps.py) ------------------------------------------------


class Question(Body):
    question: str = Field(description="what the notice lacks")


class Answer(Body):
    answer: str


class IdentificationAsk(Body):
    question: str = Field(description="what the notifier should judge (≤ 2000 chars)")
    items: list[IdentificationItem] = Field(default_factory=list)


class Identification(Body):
    verdict: Authenticity
    basis: str = Field(description="what the verdict rests on (≤ 5000 chars)")
    evidence: list[Evidence] = Field(default_factory=list)


class MessageIn(Body):
    text: str = Field(description="the message (≤ 4000 chars; newlines and tabs ok)")
    evidence: list[Evidence] = Field(default_factory=list)


class CounterNotice(Body):
    statement: str = Field(description="why the takedown is wrong")
    consent: bool = Field(False, description="consent to the court's jurisdiction")


class Litigation(Body):
    court: str
    reference: str = Field(description="the court's case reference")


class Reason(Body):
    reason: str
