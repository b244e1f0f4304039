"""`ntd events tail`: ntd's events on Kafka as JSON lines (the reference subscriber)."""

from __future__ import annotations

import json
import signal
import sys
import time

import click
import structlog

from domain.values import Actor
from ntd.cli.kit import Runtime, pass_runtime, stop_on_signals
from ntd.cli.params import as_option
from ntd.services import connect_timeout

log = structlog.get_logger("ntd.cli")


@click.group("events")
def events() -> None:
    """Subscribe to ntd's events on Kafka (published there by `ntd relay`).

    \b
    Examples:
      ntd events tail --from-beginning
      ntd events tail --type ntd.case. --idle-exit 5
    """


@events.command("tail")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest retained event.")
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="T",
    help="Only events whose ce_type starts with T, e.g. ntd.case.taken_down (repeatable).",
)
@click.option(
    "--idle-exit",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Exit after this long without a new event.",
)
@as_option
@pass_runtime
def tail_command(
    rt: Runtime,
    from_beginning: bool,
    types: tuple[str, ...],
    idle_exit: float | None,
    actor: Actor,
) -> None:
    """Print events as JSON lines: id, type, subject, time, data (the reference subscriber).
    A broker that does not answer within NTD_CONNECT_TIMEOUT seconds (default 10) is one
    error line (exit 1).

    \b
    Examples:
      ntd events tail --from-beginning --type ntd.case.taken_down
      ntd events tail | jq 'select(.type | startswith("ntd.case."))'
    """
    from consumers.tail import tail

    rt.app.may_read("read_events", actor)
    ntd_settings = rt.settings
    stop = stop_on_signals(signal.SIGTERM)
    started = time.monotonic()
    count = 0
    try:
        for line in tail(
            ntd_settings.kafka_bootstrap,
            ntd_settings.topic_prefix,
            from_beginning,
            types,
            stop,
            idle_exit,
            connect_timeout(),
        ):
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            count += 1
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        return
    log.info("tail.stopped", events=count, seconds=round(time.monotonic() - started, 1))
