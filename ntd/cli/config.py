"""`ntd config`: the effective settings and every environment variable ntd reads."""

from __future__ import annotations

import dataclasses
import os

import click

from ntd.cli.kit import Runtime, pass_runtime
from ntd.cli.render import cell, pairs, table
from ntd.config import VARIABLES
from ntd.formats import when
from ntd.services import SERVICE_VARIABLES
from ntd.web.settings import WEB_VARIABLES

SECRETS = {"NTD_SESSION_SECRET", "NTD_ARCHIVE_KEY", "NTD_TDB_TOKEN"}
"""Variables whose value is never printed."""


@click.command("config")
@pass_runtime
def config_command(rt: Runtime) -> None:
    """Print the effective settings and every environment variable ntd reads.

    \b
    Examples:
      ntd config
      NTD_RULES='{"counter_notice_days": 14}' ntd config
    """
    s = rt.settings
    lines: list[tuple[str, str]] = []
    for f in dataclasses.fields(s):
        value = getattr(s, f.name)
        if f.name == "rules":
            continue
        if f.name == "calendar":
            text = ", ".join(d.isoformat() for d in sorted(value.holidays)) or "none"
            lines.append(("holidays", text))
            continue
        if f.name == "now":
            text = f"pinned at {when(value)}" if value else "host clock"
        elif f.name.endswith("dsn"):
            text = _masked(value)
        else:
            text = cell(value) if value not in ("", None) else "(none)"
        lines.append((f.name.replace("_", " "), text))
    click.echo("settings")
    click.echo(pairs(lines, indent=2))
    click.echo("\nrules")
    click.echo(pairs([(k, str(v)) for k, v in s.rules.model_dump().items()], indent=2))
    click.echo("\nvariables")
    click.echo(
        table(
            ("VARIABLE", "SET TO", "MEANING"),
            [
                (name, _shown(name), meaning)
                for name, meaning in (VARIABLES | SERVICE_VARIABLES | WEB_VARIABLES).items()
            ],
            indent=2,
        )
    )


def _shown(name: str) -> str:
    if name not in os.environ:
        return ""
    return "(set, not shown)" if name in SECRETS else _masked(os.environ[name])


def _masked(dsn: str) -> str:
    """A connection string with its password starred out."""
    head, at, tail = dsn.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return dsn
    scheme_user = head.rsplit(":", 1)[0]
    return f"{scheme_user}:***@{tail}"
