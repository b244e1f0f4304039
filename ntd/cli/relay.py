"""`ntd relay`: the outbox relay, producing the event store's log to Kafka."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ntd.cli.kit import Runtime, pass_runtime, ready_file_option, stop_on_signals
from ntd.workers import Readiness, run_relay


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
@click.option(
    "--encoder-process/--no-encoder-process",
    default=None,
    help="Read and encode the log in a second process while this one produces "
    "[default: on with the PostgreSQL event store].",
)
@ready_file_option
@pass_runtime
def relay(
    rt: Runtime,
    page_size: int,
    until_caught_up: bool,
    encoder_process: bool | None,
    ready_file: Path | None,
) -> None:
    """Follow the event store's notification log and produce every event to Kafka.

    Topics: one per aggregate type (ntd.case.v1, ntd.notifier.v1, ntd.seller.v1), created at start
    with NTD_KAFKA_PARTITIONS partitions, keyed by aggregate id. The position is stored only after
    the broker acknowledged (acks=all). A broker or event store that is away, at start or
    later, is waited out with back-off (capped at 30 s, each retry logged); it logs relay.ready
    when the broker takes its pages (and keeps --ready-file while it does). SIGTERM or Ctrl-C
    stops it within 5 s in any state.

    \b
    Example:
      NTD_EVENT_STORE=postgres NTD_EVENTS_DSN=postgresql://ntd:ntd@127.0.0.1:5432/ntd_events \\
        ntd relay
    """
    options: dict[str, Any] = {"page_size": page_size}
    if encoder_process is not None:
        options["encoder_process"] = encoder_process
    run_relay(
        rt.settings,
        stop_on_signals(),
        until_caught_up=until_caught_up,
        ready=Readiness("relay", ready_file),
        **options,
    )
