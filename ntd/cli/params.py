"""The CLI's parameters: the types (ids, times, actors, choices of an enum) and the options
several commands share (--as, --json, --quiet, the statement-of-reasons options)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import click
from pydantic import ValidationError

from domain.access import SellerKey
from domain.case import Case
from domain.rules import CALENDAR_DAYS_MAX
from domain.values import (
    Actor,
    ActorKind,
    AutomatedDecision,
    DecisionGround,
    StatementOfReasons,
    Visibility,
)
from ntd import reasons
from ntd.config import parse_time

F = TypeVar("F", bound=Callable[..., Any])


# -- parameter types -------------------------------------------------------------------------


class UuidType(click.ParamType):
    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> UUID:
        if isinstance(value, UUID):
            return value
        try:
            return UUID(str(value).strip())
        except ValueError:
            self.fail(
                f"{value!r} is not an id (expected a UUID such as "
                "0b5f2c1e-7d3a-4e8b-9c61-2f4d5e6a7b8c)",
                param,
                ctx,
            )


class TimeType(click.ParamType):
    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


class ActorType(click.ParamType):
    """`KIND:ID`, a person (or a party's user); the system acts for policies and deadlines only."""

    name = "KIND:ID"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Actor:
        if isinstance(value, Actor):
            return value
        try:
            actor = Actor.parse(str(value))
        except (ValueError, ValidationError):
            kinds = ", ".join(k.value for k in PEOPLE)
            self.fail(
                f"{value!r} is not an actor: expected KIND:ID with KIND one of {kinds} "
                "(e.g. agent:alice)",
                param,
                ctx,
            )
        if actor.kind not in PEOPLE:
            self.fail(
                f"{actor} is ntd itself: the system acts for policies and deadlines only; "
                "give your own identity (e.g. agent:alice)",
                param,
                ctx,
            )
        return actor


PEOPLE = (ActorKind.AGENT, ActorKind.NOTIFIER_USER, ActorKind.SELLER)
"""The actor kinds a person gives commands as: platform staff, a notifier's user, a seller's."""


class SellerType(click.ParamType):
    """`MARKETPLACE/SELLER_ID`, a seller's key."""

    name = "MARKETPLACE/SELLER_ID"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> SellerKey:
        if isinstance(value, SellerKey):
            return value
        try:
            return SellerKey.parse(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


ID = UuidType()
TIME = TimeType()
ACTOR = ActorType()
SELLER = SellerType()
LIMIT = click.IntRange(1, 1_000_000)
"""How many rows to show: bounded, so a 24-digit number is a usage error, not an overflow in
the database driver."""
VERSION = click.IntRange(1, 2**31 - 1)
"""An aggregate's version."""
DAYS = click.IntRange(1, CALENDAR_DAYS_MAX)
"""A period in calendar days, bounded like the rules' own periods."""


def choice(values: Any) -> click.Choice[str]:
    return click.Choice(
        [v.value if hasattr(v, "value") else str(v) for v in values], case_sensitive=False
    )


# -- shared options --------------------------------------------------------------------------


def as_option(f: F) -> F:
    """`--as KIND:ID`, who gives the command (default: NTD_ACTOR); the application checks
    that this principal holds a role allowing the command."""
    return click.option(
        "--as",
        "actor",
        type=ACTOR,
        envvar="NTD_ACTOR",
        required=True,
        metavar="KIND:ID",
        help="who gives the command: agent:ID (platform staff), notifier_user:ID or seller:ID "
        "[default: $NTD_ACTOR]",
    )(f)


def json_flag(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")(f)


def quiet_flag(f: F) -> F:
    return click.option("-q", "--quiet", is_flag=True, help="print only the new id(s)")(f)


GROUNDS = {
    "illegal_content": DecisionGround.ILLEGAL_CONTENT,
    "incompatible_content": DecisionGround.INCOMPATIBLE_CONTENT,
    "not_illegal": DecisionGround.NOT_ILLEGAL,
}
VISIBILITIES = {v.name.lower(): v for v in Visibility}
AUTOMATION = {
    "fully": AutomatedDecision.FULLY,
    "partially": AutomatedDecision.PARTIALLY,
    "not_automated": AutomatedDecision.NOT_AUTOMATED,
}


def reasons_options(f: F) -> F:
    """The statement-of-reasons options every decision takes (DSA Art. 17)."""
    options = [
        click.option(
            "--facts",
            required=True,
            help="the facts and circumstances relied on (decision_facts, ≤ 5000 chars)",
        ),
        click.option(
            "--ground",
            type=click.Choice(list(GROUNDS)),
            help="decision_ground [default: illegal_content for removals, not_illegal "
            "for refusals and reinstatements]",
        ),
        click.option(
            "--legal-ground",
            help="the legal ground relied on [default: from the case's right type]",
        ),
        click.option(
            "--visibility",
            multiple=True,
            type=click.Choice(list(VISIBILITIES)),
            help="decision_visibility, repeatable [default: content_disabled for "
            "removals, none otherwise]",
        ),
        click.option(
            "--automated-detection/--no-automated-detection",
            default=False,
            show_default=True,
            help="was the content found by automated means",
        ),
        click.option(
            "--automated-decision",
            type=click.Choice(list(AUTOMATION)),
            default="not_automated",
            show_default=True,
        ),
        click.option(
            "--territory",
            multiple=True,
            metavar="CC",
            help="territorial_scope, repeatable ISO country code [default: unlimited]",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def statement(
    case: Case,
    removal: bool,
    facts: str,
    ground: str | None,
    legal_ground: str | None,
    visibility: tuple[str, ...],
    automated_detection: bool,
    automated_decision: str,
    territory: tuple[str, ...],
) -> StatementOfReasons:
    """A statement of reasons from the options, with defaults the law allows."""
    return reasons.statement(
        case.right_type,
        removal,
        facts,
        ground=GROUNDS[ground] if ground else None,
        legal=legal_ground,
        visibility=[VISIBILITIES[v] for v in visibility],
        automated_detection=automated_detection,
        automated_decision=AUTOMATION[automated_decision],
        territory=territory,
    )
