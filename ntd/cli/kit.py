"""The CLI's machinery: the root group's error handling, the runtime every command is given,
the catch-up progress bar, stopping on signals and naming a notifier by its name."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import click
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError

from domain.application import NtdApplication
from domain.notice import NoticeRefused
from domain.values import Actor, DomainError
from ntd.bootstrap import FixedClock, Ntd, build
from ntd.config import ConfigError, Settings
from ntd.evidence import ChainRefused, ExportUnreadable, checkpoint_if_due
from ntd.logs import configure
from ntd.notifiers import notifiers_named
from ntd.signing import SigningKeyError
from ntd.store_chain import AlreadyChained

PROGRESS_AFTER = 3000
"""Show a progress bar when the projections are this many events behind."""

Progress = Callable[[int, int], None]
"""Told (done, total) as a catch-up goes."""


# -- errors ----------------------------------------------------------------------------------


class Refused(click.ClickException):
    """A command the user gave correctly that cannot be carried out (exit 1)."""

    exit_code = 1


def _say(*lines: str) -> None:
    for line in lines:
        click.echo(f"ntd: error: {line}", err=True)


def _problems(error: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors()]


def _names_actor(error: click.MissingParameter) -> bool:
    return error.param is not None and error.param.name == "actor"


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
            if isinstance(error, click.MissingParameter) and _names_actor(error):
                _say(
                    "who gives this command? pass --as KIND:ID (e.g. --as agent:alice) "
                    "or set NTD_ACTOR"
                )
                return 2
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
        except (SigningKeyError, ChainRefused, ExportUnreadable, AlreadyChained) as error:
            _say(str(error))
            return 1
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
        return self.catch_up(self.ntd())

    def catch_up(self, ntd: Ntd) -> Ntd:
        """Feed the projections up to the end of the event log, with the progress bar: the
        catch-up the CLI hands ntd.reads' queries, which call it once the viewer may read."""
        with catch_up_bar() as tick:
            ntd.catch_up(tick)
        return ntd

    def close(self) -> None:
        if self._ntd is not None:
            checkpoint_if_due(self._ntd)  # every N events or M minutes, after any command
            self._ntd.close()
            self._ntd = None


@contextmanager
def catch_up_bar() -> Iterator[Progress]:
    """The progress callback for a catch-up (`Ntd.catch_up` and the operations that catch up):
    a bar on stderr when the catch-up is more than PROGRESS_AFTER events long, else nothing."""
    with ExitStack() as stack:
        bar: Any = None

        def tick(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                if total <= PROGRESS_AFTER:
                    return
                bar = stack.enter_context(
                    click.progressbar(
                        length=total,
                        label="catching up projections",
                        file=sys.stderr,
                        show_pos=True,
                        width=30,
                    )
                )
            bar.update(max(0, done - bar.pos))

        yield tick


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)


def stop_on_signals(*signals: signal.Signals) -> threading.Event:
    """An event set by SIGTERM or Ctrl-C (or the signals given): a worker's cue to stop."""
    stop = threading.Event()
    for sig in signals or (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


# -- lookups ---------------------------------------------------------------------------------


def resolve_brand(
    ntd: Ntd,
    text: str,
    viewer: Actor,
    what: str = "read_dashboard",
    hint: str = "'--brand'",
    caught_up: Callable[[Ntd], Ntd] | None = None,
) -> UUID:
    """A notifier id, or the notifier the text names (see `ntd.notifiers.notifiers_named`)
    among those whose records `viewer` may read for `what`: a name never tells anyone that
    another party's notifier exists. Refused first if no role of the viewer allows `what`;
    `caught_up`, when given, brings the names up to date after that."""
    reach = ntd.app.notifiers_in_reach(what, viewer)
    try:
        return UUID(text)
    except ValueError:
        pass
    if caught_up is not None:
        ntd = caught_up(ntd)
    matches = [
        n for n in notifiers_named(ntd.read_store, text) if reach is None or n.notifier_id in reach
    ]
    if not matches:
        raise click.BadParameter(
            f"no notifier is named {text!r} (see `ntd notifier list`)", param_hint=hint
        )
    if len(matches) > 1:
        names = ", ".join(sorted(n.name for n in matches))
        raise click.BadParameter(
            f"{text!r} matches {len(matches)} notifiers ({names}); give more of the name or the id",
            param_hint=hint,
        )
    return matches[0].notifier_id
