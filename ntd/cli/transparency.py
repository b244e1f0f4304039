"""`ntd transparency`: statements of reasons for the EU Transparency Database, and the redacted
public archive of notices (docs/transparency.md)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import click

from domain.values import Actor
from ntd import reads
from ntd.cli.kit import Refused, Runtime, pass_runtime
from ntd.cli.params import TIME, as_option
from ntd.transparency import source
from ntd.transparency.archive import Pseudonyms, notices
from ntd.transparency.keys import archive_key
from ntd.transparency.statements import Skipped, Statement, batches, statements
from ntd.transparency.submit import SubmitFailed, check_url, submit

FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "json"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one record a line; json: one JSON document",
)
OUT = click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    metavar="FILE",
    help="write here (complete or not at all) instead of standard output",
)


@click.group("transparency")
def transparency() -> None:
    """Transparency exports: DSA statements of reasons and the public archive of notices.
    Auditors and admins only; docs/transparency.md gives every rule they follow.

    \b
    Examples:
      ntd transparency statements --since 2026-11-01 --until 2026-12-01 --out sor.jsonl
      ntd transparency statements --format json --out batches.json
      ntd transparency archive --out archive.jsonl
    """


@transparency.command("statements")
@click.option("--since", type=TIME, help="decisions made at or after this time")
@click.option("--until", type=TIME, help="decisions made before this time")
@FORMAT
@OUT
@click.option(
    "--submit",
    "url",
    metavar="URL",
    help="post to this batch endpoint of the Transparency Database instead of writing "
    "(e.g. https://transparency.dsa.ec.europa.eu/api/v1/statements)",
)
@click.option("--token", envvar="NTD_TDB_TOKEN", help="the API token [default: $NTD_TDB_TOKEN]")
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=5,
    show_default=True,
    help="more attempts of a call answered 429 or 5xx, or not answered",
)
@click.option(
    "--backoff",
    type=click.FloatRange(0, 30),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="first wait before a retry; doubles each time, at most 30 s",
)
@as_option
@pass_runtime
def statements_command(
    rt: Runtime,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    out: Path | None,
    url: str | None,
    token: str | None,
    retries: int,
    backoff: float,
    actor: Actor,
) -> None:
    """One statement of reasons per restrictive decision (a takedown, a seller's suspension),
    in the shape the EU Transparency Database's API takes. jsonl: a statement a line; json: an
    array of batches of at most 100, each `{"statements": [...]}` as the batch endpoint takes
    it. Each statement's puid names its decision, so exporting or submitting twice sends
    nothing twice: the database's "not unique" answer counts as already sent. A decision that
    cannot be stated in the database's terms is named on stderr and left out.

    \b
    Examples:
      ntd transparency statements --since 2026-11-01 --out november.jsonl
      NTD_TDB_TOKEN=... ntd transparency statements --submit https://HOST/api/v1/statements
    """
    if url is not None:
        try:
            check_url(url)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--submit'") from None
        if not token:
            raise click.UsageError("--submit needs --token (or NTD_TDB_TOKEN)")
    stream = source.rows(rt.ntd(), actor, rt.catch_up)
    try:
        made = _reported(statements(stream, since, until))
        if url is not None and token:
            _submit(made, url, token, retries, backoff)
            return
        with _output(out) as sink:
            _write_statements(made, fmt, sink)
    finally:
        reads.close(stream)


def _reported(items: Iterable[Statement | Skipped]) -> Iterator[Statement]:
    for item in items:
        if isinstance(item, Skipped):
            click.echo(f"ntd: warning: decision {item.puid} left out: {item.problem}", err=True)
        else:
            yield item


def _write_statements(made: Iterable[Statement], fmt: str, sink: TextIO) -> None:
    if fmt == "jsonl":
        for statement in made:
            sink.write(json.dumps(statement.public(), ensure_ascii=False) + "\n")
        return
    sink.write("[")
    for number, batch in enumerate(batches(made)):
        body = {"statements": [s.public() for s in batch]}
        sink.write(("," if number else "") + "\n" + json.dumps(body, ensure_ascii=False))
    sink.write("\n]\n")


def _submit(made: Iterable[Statement], url: str, token: str, retries: int, backoff: float) -> None:
    try:
        done = submit(batches(made), url, token, retries, backoff)
    except SubmitFailed as error:
        raise Refused(f"submitting to the Transparency Database: {error}") from None
    click.echo(
        f"{done.created:,} statements created, {done.already:,} already there "
        f"({done.calls:,} calls to {url})"
    )


@transparency.command("archive")
@FORMAT
@OUT
@as_option
@pass_runtime
def archive_command(rt: Runtime, fmt: str, out: Path | None, actor: Actor) -> None:
    """The public archive: per notice, the notifier organisation, the right's type and
    jurisdiction, the reason, dates, each listing's decision and grounds, counts; no personal
    data (no people's names, emails or signatures; sellers under a keyed pseudonym, listings
    by their marketplace's host). The pseudonyms' key: NTD_ARCHIVE_KEY, else DATA_DIR/archive.key.

    \b
    Examples:
      ntd transparency archive --out archive.jsonl
      ntd transparency archive --format json | jq '.[0].counts'
    """
    stream = source.rows(rt.ntd(), actor, rt.catch_up)  # refused before a key is made
    try:
        pseudonym = Pseudonyms(archive_key(rt.settings.data_dir))
        with _output(out) as sink:
            _write_records(notices(stream, pseudonym), fmt, sink)
    finally:
        reads.close(stream)


def _write_records(records: Iterable[dict[str, Any]], fmt: str, sink: TextIO) -> None:
    if fmt == "jsonl":
        for record in records:
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    sink.write("[")
    for number, record in enumerate(records):
        sink.write(("," if number else "") + "\n" + json.dumps(record, ensure_ascii=False))
    sink.write("\n]\n")


@contextmanager
def _output(out: Path | None) -> Iterator[TextIO]:
    """Standard output, or the file: written beside it and renamed when complete, so a failed
    export leaves no half file."""
    if out is None:
        yield sys.stdout
        return
    draft = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        with draft.open("w", encoding="utf-8") as sink:
            yield sink
        draft.replace(out)
    finally:
        draft.unlink(missing_ok=True)
