"""Audit rows for the CLI and the demo: a streamed fixed-width table and a compact excerpt of
one case's chain (CSV and JSON lines are ntd/audit_export.py's, shared with the portal)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ntd.cli.render import as_dict, cell, table
from ntd.formats import short, when

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
