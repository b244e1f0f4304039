"""Statements of reasons with the defaults the law allows, shared by the CLI and the demo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from domain.values import (
    CATEGORY_KEYWORD,
    AutomatedDecision,
    DecisionGround,
    RightType,
    StatementOfReasons,
    Visibility,
)

MAX_TERRITORIES = 250
"""More than there are countries: a longer list is a mistake."""


class _Scope(BaseModel):
    """The territorial scope as given: ISO 3166-1 alpha-2 country codes (the DSA database's
    territorial_scope), checked where a statement is made, not on stored events."""

    territorial_scope: tuple[
        Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$", max_length=2)], ...
    ] = Field(max_length=MAX_TERRITORIES)


def legal_ground(right_type: RightType, ground: DecisionGround) -> str:
    """The legal ground a decision on a right of this type relies on, by default."""
    keyword = CATEGORY_KEYWORD[right_type]
    right = right_type.value.replace("_", " ")
    if ground is DecisionGround.NOT_ILLEGAL:
        return f"{keyword}: infringement of the notified {right} not established"
    return f"{keyword}: infringement of the notified {right}"


def statement(
    right_type: RightType,
    removal: bool,
    facts: str,
    *,
    ground: DecisionGround | None = None,
    legal: str | None = None,
    visibility: Sequence[Visibility] = (),
    automated_detection: bool = False,
    automated_decision: AutomatedDecision = AutomatedDecision.NOT_AUTOMATED,
    territory: Sequence[str] = (),
) -> StatementOfReasons:
    """A statement of reasons; a removal defaults to illegal content with the listing disabled,
    a refusal or reinstatement to not illegal with nothing restricted."""
    chosen = ground or (DecisionGround.ILLEGAL_CONTENT if removal else DecisionGround.NOT_ILLEGAL)
    shown = tuple(visibility) or ((Visibility.CONTENT_DISABLED,) if removal else (Visibility.NONE,))
    return StatementOfReasons(
        ground=chosen,
        legal_ground=legal or legal_ground(right_type, chosen),
        facts=facts,
        visibility=shown,
        automated_detection=automated_detection,
        automated_decision=automated_decision,
        territorial_scope=territories(territory),
    )


def territories(given: Sequence[str]) -> tuple[str, ...]:
    """The territorial scope as upper-case country codes, each once, in the order given;
    ValidationError (at `territorial_scope`) for anything else."""
    codes = tuple(dict.fromkeys(t.strip().upper() for t in given))
    return _Scope(territorial_scope=codes).territorial_scope
