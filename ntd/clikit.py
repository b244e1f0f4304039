"""The CLI's machinery: error handling, parameter types, the runtime and shared options."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import click
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError

from domain.application import NtdApplication
from domain.case import Case
from domain.notice import NoticeRefused
from domain.values import (
    Actor,
    ActorKind,
    AutomatedDecision,
    DecisionGround,
    DomainError,
    StatementOfReasons,
    Visibility,
)
from ntd import reasons
from ntd.bootstrap import FixedClock, Ntd, build
from ntd.config import ConfigError, Settings, parse_time
from ntd.logs import configure

F = TypeVar("F", bound=Callable[..., Any])
PROGRESS_AFTER = 3000
"""Show a progress bar when the projections are this many events behind."""


# -- errors ----------------------------------------------------------------------------------


class Refused(click.ClickException):
    """A command the user gave correctly that cannot be carried out (exit 1)."""

    exit_code = 1


def _say(*lines: str) -> None:
    for line in lines:
        click.echo(f"ntd: error: {line}", err=True)


def _problems(error: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors()]


class NtdGroup(click.Group):
    """The root group: turns every user mistake into `ntd: error:` lines and an exit code."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        code = self._run(args, prog_name or "ntd", complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: Any, prog_name: str, complete_var: str | None, **extra: Any) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            return result if isinstance(result, int) else 0
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.format_message())
            return 0
        except click.UsageError as error:
            _say(error.format_message())
            if error.ctx is not None:
                click.echo(f"Try '{error.ctx.command_path} --help'.", err=True)
            return 2
        except click.ClickException as error:
            _say(error.format_message())
            return error.exit_code
        except click.Abort:
            _say("aborted")
            return 1
        except NoticeRefused as error:
            count = len(error.problems)
            _say(
                f"notice refused ({count} problem{'s' if count != 1 else ''}):",
                *(f"  {p}" for p in error.problems),
            )
            return 1
        except DomainError as error:
            _say(str(error))
            return 1
        except ValidationError as error:
            _say(*_problems(error))
            return 2
        except ConfigError as error:
            _say(str(error))
            return 2
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 1
        except OSError as error:
            where = f": {error.filename}" if error.filename else ""
            _say(f"{error.strerror or error}{where}")
            return 1
        except PersistenceError as error:
            _say(f"the event store cannot be used: {error}")
            return 1


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
    name = "KIND:ID"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Actor:
        if isinstance(value, Actor):
            return value
        try:
            return Actor.parse(str(value))
        except (ValueError, ValidationError):
            kinds = ", ".join(k.value for k in ActorKind)
            self.fail(
                f"{value!r} is not an actor: expected KIND:ID with KIND one of {kinds} "
                "(e.g. agent:alice)",
                param,
                ctx,
            )


ID = UuidType()
TIME = TimeType()
ACTOR = ActorType()


def choice(values: Any) -> click.Choice[str]:
    return click.Choice(
        [v.value if hasattr(v, "value") else str(v) for v in values], case_sensitive=False
    )


# -- runtime ---------------------------------------------------------------------------------


class Runtime:
    """Settings and the wired system, built on first use and closed when the command ends."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._ntd: Ntd | None = None

    @property
    def settings(self) -> Settings:
        """The settings from the environment; logging is configured once, here."""
        if self._settings is None:
            self._settings = Settings.from_env()
            configure(self._settings.log_format, self._settings.log_level)
        return self._settings

    def ntd(self, clock: FixedClock | None = None) -> Ntd:
        """The wired system (a given clock replaces the host's, e.g. for `--now`)."""
        if self._ntd is None:
            self._ntd = build(self.settings, clock=clock)
        return self._ntd

    @property
    def app(self) -> NtdApplication:
        """The command side."""
        return self.ntd().app

    def now(self) -> datetime:
        """The application clock's time."""
        return self.ntd().clock.now()

    def caught_up(self) -> Ntd:
        """The system with its projections fed up to the end of the event log."""
        ntd = self.ntd()
        behind = _behind(ntd)
        if behind > PROGRESS_AFTER:
            with progress_bar(behind, "catching up projections") as tick:
                ntd.catch_up(tick)
        else:
            ntd.catch_up()
        return ntd

    def close(self) -> None:
        if self._ntd is not None:
            self._ntd.close()
            self._ntd = None


def _behind(ntd: Ntd) -> int:
    if ntd.settings.feed != "log":
        return 0
    last = ntd.app.recorder.max_notification_id() or 0
    return max(0, last - ntd.read_store.position())


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr; yields the callback (done, total) that moves it."""
    with click.progressbar(
        length=total, label=label, file=sys.stderr, show_pos=True, width=30
    ) as bar:

        def tick(done: int, _total: int) -> None:
            bar.update(max(0, done - bar.pos))

        yield tick


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)


# -- shared options --------------------------------------------------------------------------


def as_option(default: str | None, who: str = "") -> Callable[[F], F]:
    """`--as ACTOR`, who gave the command."""
    help_text = "who gives the command, KIND:ID with KIND agent, notifier_user, seller or system"
    help_text += f" [default: {default or who}]"
    return click.option(
        "--as", "actor", type=ACTOR, default=default, show_default=False, help=help_text
    )


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
