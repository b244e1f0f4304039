"""The `ntd` command line: the root group, and one module per command group.

Each command parses its input, calls one service operation (the application, or ntd's wiring
modules: ntd/deadlines.py, ntd/rebuild.py, ntd/policies.py, ntd/notifiers.py, ntd/workers.py)
and renders the result or the error. The machinery is in kit.py (errors, runtime) and params.py
(parameter types, shared options); the text rendering in the render*.py modules.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ntd.cli import (
    access,
    audit,
    case,
    case_list,
    config,
    consume,
    dashboard,
    deadlines,
    demo,
    events,
    keys,
    notice,
    notifier,
    policies,
    projections,
    queue,
    relay,
    seller,
    serve,
    tokens,
    transparency,
)
from ntd.cli.kit import NtdGroup, Runtime

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=NtdGroup, context_settings=CONTEXT)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="where the embedded SQLite stores live (overrides NTD_DATA_DIR)",
)
@click.version_option(package_name="ntd", prog_name="ntd")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None) -> None:
    """Notice and takedown for online marketplaces: notifiers file notices about listings,
    agents decide each listing's case with a statement of reasons, sellers counter-notice.

    Every command has --help with examples. With no configuration ntd runs embedded on
    SQLite in ~/.local/share/ntd (see `ntd config`). Commands are given --as KIND:ID (or
    NTD_ACTOR), a principal holding a role that allows them (see `ntd access`).

    A command that cannot be done says why in one `ntd: error:` line on stderr (exit 1; 2 for
    a usage or configuration mistake). A failure ntd did not foresee says so on that line and
    keeps its traceback in DATA_DIR/errors.log (also logged to stderr with
    NTD_LOG_LEVEL=debug). Kafka or PostgreSQL not answering within NTD_CONNECT_TIMEOUT seconds
    (default 10) is such a line too; `ntd relay` and `ntd consume` wait for them instead. Logs
    go to stderr: console lines on a terminal, else JSON.

    \b
    Examples:
      ntd demo                           build a realistic marketplace to explore
      ntd access init agent:root         on a new store: name its first admin
      ntd notice template > notice.json  a valid notice to edit, then:
      ntd notice file --json notice.json
      ntd case show CASE_ID
      ntd dashboard --brand Aurelia
    """
    if data_dir is not None:
        os.environ["NTD_DATA_DIR"] = str(data_dir)
    ctx.call_on_close(ctx.ensure_object(Runtime).close)


cli.add_command(access.access)
cli.add_command(config.config_command)
cli.add_command(notifier.notifier)
cli.add_command(notice.notice)
cli.add_command(case.case)
case.case.add_command(case_list.case_list)
cli.add_command(queue.queue)
cli.add_command(seller.seller)
cli.add_command(deadlines.deadlines)
cli.add_command(dashboard.dashboard)
cli.add_command(audit.audit)
cli.add_command(keys.keys)
cli.add_command(demo.demo)
cli.add_command(relay.relay)
cli.add_command(events.events)
cli.add_command(consume.consume)
cli.add_command(projections.projections_group)
cli.add_command(policies.policies)
cli.add_command(tokens.tokens)
cli.add_command(serve.serve)
cli.add_command(transparency.transparency)


def main() -> None:
    """The `ntd` console script. Whatever it creates (the embedded stores, their directory) is
    its user's alone: the stores hold people's names and contacts."""
    os.umask(0o077)
    cli.main(prog_name="ntd")


if __name__ == "__main__":  # pragma: no cover
    main()
