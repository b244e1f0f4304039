"""Value types shared by every aggregate: actors, statements of reasons, ids, the event base."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Protocol, Self
from uuid import UUID, uuid5

import pydantic
from eventsourcing.domain import Aggregate, CanInitAggregate, CanMutateAggregate
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

NTD_NAMESPACE = UUID("5b0c7f5e-3d0e-4c61-9a55-6f1d1a8e2b7d")
"""Names a key whose parts hold no `|` by the parts joined with `|` (the ids ntd always gave)."""
NTD_JSON_NAMESPACE = UUID("8944a74a-5306-4c2f-b57b-c309f7d32e54")
"""Names any other key by its parts as a JSON array."""


@lru_cache(maxsize=8192)  # a command names the same key more than once (claims, cases)
def stable_id(*parts: str) -> UUID:
    """A deterministic id for a natural key: the same parts always name the same aggregate,
    different parts never do.

    Parts without `|` keep the id they always had, so stores written before stay valid: their
    `|`-join splits back into exactly those parts, whatever their number. A part holding `|`
    (or no parts) made the join ambiguous (`x|y`,`m` and `x`,`y|m` shared an aggregate); such a
    key is now named by its JSON array, which also decodes back into its parts. Every string is
    the join of some `|`-free parts, so only the namespaces keep the two kinds apart: uuid5
    hashes the namespace's 16 bytes before the name, so they could meet only by a SHA-1 collision.
    """
    if parts and not any("|" in part for part in parts):
        return uuid5(NTD_NAMESPACE, "|".join(parts))
    return uuid5(NTD_JSON_NAMESPACE, json.dumps(parts))


def former_id(*parts: str) -> UUID | None:
    """The id a key with `|` in a part had before `stable_id` kept such keys apart; None for
    every other key, whose id never changed. Another key may share that id (the collision
    fixed), so an aggregate found there is this key's only if it records this key as its own."""
    if any("|" in part for part in parts):
        return uuid5(NTD_NAMESPACE, "|".join(parts))
    return None


class DomainError(Exception):
    """A command the domain refuses; the message is meant for the person who gave it."""


class NotFound(DomainError):
    """The named aggregate does not exist."""


class CorruptEvent(DomainError):
    """A stored event ntd cannot read as written by itself: a topic that names no event class of
    ntd, a state that is not the class's, or versions out of sequence (an event deleted or
    swapped). The store was changed outside ntd; the message names where."""


class AlreadyDone(DomainError):
    """The command's effect is already there (e.g. a redelivered policy command)."""


class Unauthenticated(DomainError):
    """A credential that names no one: unknown, malformed, revoked or expired. The message never
    says which, so a guesser learns nothing."""


class StaleVersion(DomainError):
    """The command was given for a version of the aggregate that is no longer its latest:
    someone changed it since the giver looked (two agents deciding at once: one wins)."""


class ClockWentBack(DomainError):
    """A command stamped earlier than the aggregate's latest event: replaying as of a time
    would then show a history that never was."""


class Clock(Protocol):
    """Where the domain gets the time from; injected so that tests never sleep."""

    def now(self) -> datetime: ...


AwareDatetime = pydantic.AwareDatetime
"""A timestamp that must carry its time zone (checked inside pydantic-core, no Python call)."""
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)]
"""A hex SHA-256 digest in either case, stored in lower case."""

INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"})
"""Unicode categories that show nothing: controls, format (zero-width), spaces, separators,
private-use and unassigned code points."""
REFUSED_IN_IDS = frozenset({"Cc", "Zl", "Zp"})
"""Controls and line breaks: an id holding one can rewrite the terminal it is printed on."""


def identifier(text: str, what: str = "id") -> str:
    """An id as a person gave it, in NFC (so NFC and NFD spellings name one thing); refuses
    control characters and ids that show nothing (only spaces or zero-width characters).
    Checked where ids come in, not in the events: a stored event is replayed as it was."""
    normal = unicodedata.normalize("NFC", text)
    for position, char in enumerate(normal):
        if unicodedata.category(char) in REFUSED_IN_IDS:
            raise ValueError(
                f"{what} holds the control character U+{ord(char):04X} at position {position}"
            )
    if all(unicodedata.category(char) in INVISIBLE for char in normal):
        raise ValueError(f"{what} {text!r} shows nothing (only spaces or invisible characters)")
    return normal


def problem_message(error: Mapping[str, Any]) -> str:
    """One pydantic error's message, without the `Value error, ` pydantic puts before a
    validator's own message."""
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def problem_text(error: Mapping[str, Any]) -> str:
    """One pydantic error in a person's words: `where: message`."""
    where = ".".join(str(part) for part in error.get("loc", ())) or "value"
    return f"{where}: {problem_message(error)}"


@dataclass(frozen=True)
class TimeRange:
    """The years a time given to ntd may fall in: outside them a value is a mistake (1970 from
    an unset clock, 9999 from a typo), and near datetime's limits deadline arithmetic overflows.
    Configured by NTD_TIME_MIN_YEAR and NTD_TIME_MAX_YEAR."""

    first_year: int = 2000
    last_year: int = 2200

    def refusal(self, moment: datetime, what: str = "time") -> str | None:
        """Why `moment` is not a time ntd accepts; None if it is."""
        if self.first_year <= moment.year <= self.last_year:
            return None
        return (
            f"{what} {moment.isoformat()} is outside the years {self.first_year}"
            f"-{self.last_year} ntd accepts (NTD_TIME_MIN_YEAR, NTD_TIME_MAX_YEAR)"
        )

    def check(self, moment: datetime, what: str = "time") -> datetime:
        """The moment, or ValueError saying it is out of range."""
        problem = self.refusal(moment, what)
        if problem:
            raise ValueError(problem)
        return moment


class Frozen(BaseModel):
    """Base for immutable value objects."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ActorKind(StrEnum):
    NOTIFIER_USER = "notifier_user"
    AGENT = "agent"
    SELLER = "seller"
    SYSTEM = "system"


class Role(StrEnum):
    """What a principal may do (domain/permissions.py says which commands each role gives)."""

    AGENT = "agent"
    ACCOUNT_MANAGER = "account_manager"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    NOTIFIER_ADMIN = "notifier_admin"
    REPORTER = "reporter"
    REGISTERED_AGENT = "registered_agent"
    SELLER_USER = "seller_user"
    SYSTEM = "system"


class Actor(Frozen):
    """Who did something: a notifier's user, a member of the platform's staff (kind `agent`),
    a seller's user, or the system; on a stored event, also the role the command was allowed
    under (none on events recorded before roles existed)."""

    kind: ActorKind
    id: str = Field(min_length=1, max_length=200)
    role: Role | None = Field(
        None,
        exclude_if=lambda role: role is None,  # events stored before roles keep their bytes
        description="the role the command was allowed under",
    )

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Actor:
        """Read `kind:id`, e.g. `agent:alice`."""
        kind, sep, ident = text.partition(":")
        if not sep or not ident:
            raise ValueError(f"actor {text!r} must look like KIND:ID, e.g. agent:alice")
        return cls(kind=ActorKind(kind), id=identifier(ident, "actor id"))

    def acting_as(self, role: Role) -> Actor:
        """The same actor, stamped with the role a command was allowed under."""
        return Actor(kind=self.kind, id=self.id, role=role)

    @property
    def principal(self) -> Actor:
        """Who, without the role: the key of the principal's grants."""
        return self if self.role is None else Actor(kind=self.kind, id=self.id)


SYSTEM = Actor(kind=ActorKind.SYSTEM, id="ntd", role=Role.SYSTEM)


class RightType(StrEnum):
    TRADEMARK = "trademark"
    COPYRIGHT = "copyright"
    DESIGN = "design"
    PATENT = "patent"
    GEOGRAPHIC_INDICATION = "geographic_indication"


class Visibility(StrEnum):
    CONTENT_REMOVED = "DECISION_VISIBILITY_CONTENT_REMOVED"
    CONTENT_DISABLED = "DECISION_VISIBILITY_CONTENT_DISABLED"
    CONTENT_DEMOTED = "DECISION_VISIBILITY_CONTENT_DEMOTED"
    NONE = "DECISION_VISIBILITY_NONE"


class DecisionGround(StrEnum):
    ILLEGAL_CONTENT = "DECISION_GROUND_ILLEGAL_CONTENT"
    INCOMPATIBLE_CONTENT = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    NOT_ILLEGAL = "DECISION_GROUND_NOT_ILLEGAL"


class AutomatedDecision(StrEnum):
    FULLY = "AUTOMATED_DECISION_FULLY"
    PARTIALLY = "AUTOMATED_DECISION_PARTIALLY"
    NOT_AUTOMATED = "AUTOMATED_DECISION_NOT_AUTOMATED"


class SourceType(StrEnum):
    ARTICLE_16 = "SOURCE_ARTICLE_16"
    TRUSTED_FLAGGER = "SOURCE_TRUSTED_FLAGGER"
    VOLUNTARY = "SOURCE_VOLUNTARY"


CATEGORY_KEYWORD = {
    RightType.TRADEMARK: "KEYWORD_TRADEMARK_INFRINGEMENT",
    RightType.COPYRIGHT: "KEYWORD_COPYRIGHT_INFRINGEMENT",
    RightType.DESIGN: "KEYWORD_DESIGN_INFRINGEMENT",
    RightType.PATENT: "KEYWORD_PATENT_INFRINGEMENT",
    RightType.GEOGRAPHIC_INDICATION: "KEYWORD_GEOGRAPHIC_INDICATIONS_INFRINGEMENT",
}


class StatementOfReasons(Frozen):
    """The reasons that go with every decision, shaped after the DSA Art. 17 statement."""

    ground: DecisionGround
    legal_ground: str = Field(min_length=1, max_length=500)
    facts: str = Field(min_length=1, max_length=5000)
    visibility: tuple[Visibility, ...] = Field(min_length=1)
    automated_detection: bool = False
    automated_decision: AutomatedDecision = AutomatedDecision.NOT_AUTOMATED
    territorial_scope: tuple[str, ...] = ()


class DomainEvent(BaseModel):
    """Base of every stored event: a frozen pydantic model, the single source of its schema."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_version: ClassVar[int] = 1
    """Raise it (`class_version = 2`) with an `upcast_v1_v2(state)` staticmethod to evolve."""

    originator_id: UUID
    originator_version: int
    timestamp: AwareDatetime
    actor: Actor


class EventSourced(Aggregate):
    """Base aggregate whose events are pydantic models carrying their actor and time."""

    class Event(DomainEvent, CanMutateAggregate[UUID]):
        def apply(self, aggregate: Any) -> None:
            """Events that change nothing beyond the version override nothing."""

    class Created(Event, CanInitAggregate[UUID]):
        originator_topic: str

    @classmethod
    def start(
        cls, event_class: type[Any], aggregate_id: UUID, actor: Actor, at: datetime, **fields: Any
    ) -> Self:
        """Create the aggregate with its first event; invalid fields raise InvalidInput."""
        try:
            return cls._create(event_class, id=aggregate_id, actor=actor, timestamp=at, **fields)
        except ValidationError as error:
            raise _invalid_input(event_class, error) from None

    def record(self, event_class: type[Any], actor: Actor, at: datetime, **fields: Any) -> None:
        """Trigger an event stamped with who did it and when (the clock's time, not the host's);
        never earlier than the latest event, whose time a replay as of a moment relies on."""
        last = self.modified_on
        if at < last:
            raise ClockWentBack(
                f"{type(self).__name__.lower()} {self.id}: {event_class.__name__} at "
                f"{at.isoformat()} would be earlier than its latest event at {last.isoformat()}"
            )
        try:
            self.trigger_event(event_class, actor=actor, timestamp=at, **fields)
        except ValidationError as error:
            raise _invalid_input(event_class, error) from None


class InvalidInput(DomainError):
    """A command's values do not fit the event they would record."""


def _invalid_input(event_class: type[Any], error: ValidationError) -> InvalidInput:
    problems = "; ".join(problem_text(e) for e in error.errors())
    return InvalidInput(f"invalid {event_class.__name__}: {problems}")
