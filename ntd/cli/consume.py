"""`ntd consume NAME`: a consumer of ntd's topics (the read models, or the policies)."""

from __future__ import annotations

from pathlib import Path

import click

from consumers.topics import CONSUMERS
from ntd.bootstrap import UnknownConsumer
from ntd.cli.kit import Refused, Runtime, pass_runtime, ready_file_option, stop_on_signals
from ntd.workers import Readiness, run_consumer


@click.command("consume")
@click.argument("name", type=click.Choice(CONSUMERS), metavar="NAME")
@click.option(
    "--batch-size",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 50_000),
    help="Most records per poll; each batch is one database transaction.",
)
@click.option(
    "--until-caught-up",
    is_flag=True,
    help="Stop once every assigned partition is applied up to its end (batch jobs, tests).",
)
@click.option(
    "--instance-id",
    metavar="ID",
    help="Static group membership (group.instance.id): a restarted consumer with the same id "
    "takes its partitions back at once instead of waiting for the session to expire.",
)
@click.option(
    "--lag-interval",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.5),
    help="Seconds between consumer.lag log lines.",
)
@ready_file_option
@pass_runtime
def consume(
    rt: Runtime,
    name: str,
    batch_size: int,
    until_caught_up: bool,
    instance_id: str | None,
    lag_interval: float,
    ready_file: Path | None,
) -> None:
    """Consume ntd's topics into NAME: `projections` (the read models behind dashboard, audit
    and deadlines, in NTD_READ_DSN) or `policies` (trusted lane, misuse, strikes).

    Kafka consumer group `<NTD_TOPIC_PREFIX>ntd-NAME`, manual commits: each polled batch is
    applied with its offsets in one database transaction, so a redelivered batch changes
    nothing and a crash loses nothing. A message that does not decode or validate goes to the
    dead-letter topic (ntd.deadletter.v1) with the reason, and the consumer goes on. Lag is
    logged as consumer.lag. A broker or database that is away, at start or later, is waited
    out with back-off (capped at 30 s, each retry logged); it logs consumer.ready when batches
    flow (and keeps --ready-file while they do). SIGTERM or Ctrl-C stops it after the current
    batch, within 5 s in any state.

    \b
    Examples:
      NTD_FEED=kafka NTD_READ_DSN=postgresql://ntd:ntd@127.0.0.1:5432/ntd_read \\
        ntd consume projections
      ntd consume projections --instance-id read-1 --batch-size 5000
      ntd consume projections --until-caught-up
    """
    from consumers.loop import FatalPositions  # here: kafka-python costs 0.1 s to import

    try:
        run_consumer(
            rt.settings,
            name,
            stop_on_signals(),
            until_caught_up=until_caught_up,
            ready=Readiness("consumer", ready_file, consumer=name),
            max_poll_records=batch_size,
            instance_id=instance_id,
            lag_interval=lag_interval,
        )
    except (UnknownConsumer, FatalPositions) as error:
        raise Refused(str(error)) from None
