"""Audit rows for the CLI and the demo: a streamed fixed-width table, CSV, JSON lines and a
compact excerpt of one case's chain."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO

from ntd.cli.render import as_dict, cell, plain, short, table, when
from projections.audit import CONTENT_FIELDS

AUDIT_FIELDS = (*CONTENT_FIELDS, "prev_hash", "hash")
"""An audit row's columns: what its hash covers, then the chain."""
AUDIT_TABLE = (
    ("SEQ", 7),
    ("OCCURRED", 20),
    ("AGGREGATE", 9),
    ("ID", 36),
    ("V", 3),
    ("ACTOR", 24),
    ("EVENT", 25),
    ("HASH", 12),
)
_AUDIT_NUMERIC = {"SEQ", "V"}


def audit_table(rows: Iterable[Any]) -> Iterator[str]:
    """Audit rows as a fixed-width table, line by line (rows are streamed, not measured)."""
    yield "  ".join(
        h.rjust(w) if h in _AUDIT_NUMERIC else h.ljust(w) for h, w in AUDIT_TABLE
    ).rstrip()
    for row in rows:
        r = as_dict(row)
        values = (
            r["seq"],
            when(_time(r["occurred_at"])),
            r["aggregate_type"],
            r["aggregate_id"],
            r["version"],
            r["actor"],
            r["event_type"],
            str(r["hash"])[:12],
        )
        cells = [
            short(cell(v), w).ljust(w) if not isinstance(v, int) else str(v).rjust(w)
            for v, (_, w) in zip(values, AUDIT_TABLE, strict=True)
        ]
        yield "  ".join(cells).rstrip()


def _time(value: Any) -> datetime | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value  # type: ignore[no-any-return]


def write_audit_csv(rows: Iterable[Any], out: TextIO) -> int:
    """Every audit field as CSV with a header; returns the row count."""
    writer = csv.writer(out)
    writer.writerow(AUDIT_FIELDS)
    n = 0
    for row in rows:
        r = as_dict(row)
        writer.writerow(["" if r.get(f) is None else plain(r.get(f)) for f in AUDIT_FIELDS])
        n += 1
    return n


def write_audit_jsonl(rows: Iterable[Any], out: TextIO) -> int:
    """One JSON object per row, with payload and reasons as nested JSON; returns the count."""
    n = 0
    for row in rows:
        r = {f: plain(v) for f, v in as_dict(row).items()}
        for key in ("payload", "reasons"):
            if isinstance(r.get(key), str):
                r[key] = json.loads(r[key])
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
        n += 1
    return n


def audit_excerpt(rows: Iterable[Any]) -> list[str]:
    """A case's audit rows, compact: who did what when, and how each row links to the last."""
    body = []
    for row in rows:
        r = as_dict(row)
        body.append(
            (
                r["seq"],
                r["version"],
                when(_time(r["occurred_at"])),
                r["actor"],
                r["event_type"],
                f"{str(r['prev_hash'])[:10]} → {str(r['hash'])[:10]}",
            )
        )
    return table(
        ("SEQ", "V", "OCCURRED", "ACTOR", "EVENT", "CHAIN (prev → hash)"), body, indent=2
    ).splitlines()
