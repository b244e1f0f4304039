"""The CLI's machinery: the root group's error handling, the runtime every command is given,
the catch-up progress bar, stopping on signals and naming a notifier by its name."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import click
import structlog
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError

from consumers.reach import ServiceAway
from domain.application import NtdApplication
from domain.notice import NoticeRefused
from domain.values import Actor, DomainError, problem_text
from ntd.bootstrap import FixedClock, Ntd, build
from ntd.cli.render import escape
from ntd.config import ConfigError, Settings
from ntd.evidence import ChainRefused, ExportUnreadable, checkpoint_if_due
from ntd.logs import FAILURE_LOG, configure, write_failure
from ntd.notifiers import notifiers_named
from ntd.signing import SigningKeyError
from ntd.store_chain import AlreadyChained

UNEXPECTED = "unexpected failure"
"""How the one line of a command that failed in a way ntd did not foresee (a defect, not the
user's mistake) begins, after `ntd: error: `:
`unexpected failure in `ntd case show` (KeyError); details in the log: PATH`. Kept word for
word: the fuzzer counts the lines that carry it as findings."""

STOP_GRACE = 4.0
"""Seconds a worker has, after SIGTERM or Ctrl-C, to stop by itself before the process ends
anyway: a client call that does not look at the stop cue (a broker's bootstrap, a commit) must
not hold a supervisor's stop past 5 s. What a worker stores is safe against a kill (see
consumers/sink.py and the relay), so ending it is."""

PROGRESS_AFTER = 3000
"""Show a progress bar when the projections are this many events behind."""

Progress = Callable[[int, int], None]
"""Told (done, total) as a catch-up goes."""


# -- errors ----------------------------------------------------------------------------------


class Refused(click.ClickException):
    """A command the user gave correctly that cannot be carried out (exit 1)."""

    exit_code = 1


def _say(*lines: str) -> None:
    for line in lines:  # escaped: an error may quote the user's input, control characters too
        click.echo(f"ntd: error: {escape(line)}", err=True)


def _problems(error: ValidationError) -> list[str]:
    return [problem_text(e) for e in error.errors()]


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
        except sqlite3.DatabaseError as error:
            if type(error) is not sqlite3.DatabaseError:  # locked, a constraint: not damage
                return _unexpected(error)
            _say(f"an SQLite store is damaged (found while reading it): {error}")
            return 1
        except ServiceAway as error:
            _say(str(error))
            return 1
        except Exception as error:  # the last resort: ntd failed, not the user
            return _unexpected(error)


def _unexpected(error: Exception) -> int:
    """One line naming the command that failed and where its traceback went (never stderr,
    unless NTD_LOG_LEVEL=debug); the command's unit of work was not committed."""
    step = _failing_command(error)
    try:
        path = _failure_log()
        write_failure(path, "cli.unexpected", error, command=step)
        where = f"details in the log: {path}"
    except OSError as reason:
        where = (
            f"the details could not be logged ({reason.strerror or reason}); "
            "run again with NTD_LOG_LEVEL=debug to see them"
        )
    _say(f"{UNEXPECTED} in `{step}` ({type(error).__name__}); {where}")
    return 1


def _failing_command(error: BaseException) -> str:
    """The path of the innermost command the traceback passed through (`ntd case show`): the
    one that was running when it failed. Read from click's frames, since the contexts are
    closed by the time the error reaches the root group."""
    path = "ntd"
    for frame, _ in traceback.walk_tb(error.__traceback__):
        ctx = frame.f_locals.get("ctx")
        if isinstance(ctx, click.Context):
            path = ctx.command_path
    return path


def _failure_log() -> Path:
    """The failure log in the data directory, or in the temporary directory when the settings
    themselves cannot be read."""
    try:
        return Settings.from_env().data_dir / FAILURE_LOG
    except Exception:  # the settings may be what failed
        return Path(tempfile.gettempdir()) / f"ntd-{os.getuid()}-{FAILURE_LOG}"


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
def catch_up_bar(label: str = "catching up projections") -> Iterator[Progress]:
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
                        label=label,
                        file=sys.stderr,
                        show_pos=True,
                        width=30,
                    )
                )
            bar.update(max(0, done - bar.pos))

        yield tick


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)

ready_file_option = click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    metavar="PATH",
    help="A file that exists exactly while the worker is serving (for a readiness probe: "
    "`test -f PATH`); removed while it retries and when it stops.",
)


def stop_on_signals(*signals: signal.Signals, grace: float = STOP_GRACE) -> threading.Event:
    """An event set by SIGTERM or Ctrl-C (or the signals given): a worker's cue to stop. A
    worker still running `grace` seconds later, or told a second time, is ended (exit 128 +
    the signal's number, as if the signal had ended it)."""
    stop = threading.Event()

    def on_signal(number: int, _frame: Any) -> None:
        if stop.is_set():
            _end(number, "again")
        stop.set()
        timer = threading.Timer(grace, _end, (number, f"{grace:g} s later"))
        timer.daemon = True
        timer.start()

    for sig in signals or (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    return stop


def _end(number: int, when: str) -> None:
    structlog.get_logger("ntd.cli").warning(
        "worker.stop_forced", signal=signal.Signals(number).name, when=when
    )
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more to say on it
            stream.flush()
    os._exit(128 + number)


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
