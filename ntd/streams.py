"""CLI commands that touch Kafka: `ntd relay` and `ntd events tail`."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

import click
import structlog

from ntd.bootstrap import build_relay
from ntd.clikit import Runtime, pass_runtime

log = structlog.get_logger("ntd.cli")


@click.command("relay")
@click.option(
    "--page-size",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 50_000),
    help="Notifications read and produced per round trip.",
)
@click.option(
    "--until-caught-up",
    is_flag=True,
    help="Stop once the store's head is on Kafka (for batch jobs and tests).",
)
@pass_runtime
def relay(rt: Runtime, page_size: int, until_caught_up: bool) -> None:
    """Follow the event store's notification log and produce every event to Kafka.

    Topics: one per aggregate type (ntd.case.v1, ntd.notifier.v1, ntd.seller.v1), created at start
    with NTD_KAFKA_PARTITIONS partitions, keyed by aggregate id. The position is stored only after
    the broker acknowledged (acks=all); a broker outage is waited out with back-off. SIGTERM or
    Ctrl-C stops it cleanly.

    \b
    Example:
      NTD_EVENT_STORE=postgres NTD_EVENTS_DSN=postgresql://ntd:ntd@127.0.0.1:5432/ntd_events \\
        ntd relay
    """
    from consumers.relay import ensure_topics

    ntd = rt.ntd()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    settings = ntd.settings
    backoff = 0.5
    while not stop.is_set():
        try:
            ensure_topics(
                settings.kafka_bootstrap, settings.kafka_partitions, settings.topic_prefix
            )
            break
        except Exception as error:  # the broker may still be starting; wait and retry
            log.warning("relay.topics_unavailable", error=str(error), retry_in=backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)
    worker = build_relay(ntd, page_size=page_size)
    try:
        worker.run(stop, until_caught_up=until_caught_up)
    finally:
        worker.positions.close()


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
@pass_runtime
def tail_command(
    rt: Runtime, from_beginning: bool, types: tuple[str, ...], idle_exit: float | None
) -> None:
    """Print events as JSON lines: id, type, subject, time, data (the reference subscriber).

    \b
    Examples:
      ntd events tail --from-beginning --type ntd.case.taken_down
      ntd events tail | jq 'select(.type | startswith("ntd.case."))'
    """
    from consumers.tail import tail

    ntd_settings = rt.settings
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
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
        ):
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            count += 1
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        return
    log.info("tail.stopped", events=count, seconds=round(time.monotonic() - started, 1))
