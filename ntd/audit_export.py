"""The audit trail's export formats, written once for `ntd audit query` and the portal: a JSON
array, JSON lines (payload and reasons as nested JSON) and CSV with every field."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from domain.catalog import event_classes, event_type
from ntd.formats import csv_cell
from projections.models import AuditRow

MEDIA_TYPES = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv"}
"""Each format and the media type it is served as."""
EVENT_TYPES = sorted({event_type(cls) for cls in event_classes()})
"""The types an audit filter may name: a typo must not look like "no rows"."""
FIELDS = tuple(AuditRow.model_fields)
"""An audit row's columns: what its hash covers, then the chain."""


def chunks(rows: Iterable[AuditRow], fmt: str) -> Iterator[str]:
    """The rows as text in the format, a chunk per row, so a long trail streams."""
    if fmt == "csv":
        yield from _csv(rows)
        return
    first = True
    if fmt == "json":
        yield "["
    for row in rows:
        data = row.model_dump(mode="json")
        if fmt == "jsonl":
            for key in ("payload", "reasons"):
                if isinstance(data.get(key), str):
                    data[key] = json.loads(data[key])
            yield json.dumps(data, ensure_ascii=False) + "\n"
        else:
            yield ("" if first else ",") + json.dumps(data, ensure_ascii=False)
        first = False
    if fmt == "json":
        yield "]"


def _csv(rows: Iterable[AuditRow]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow([csv_cell(data[n]) for n in FIELDS])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def write(rows: Iterable[AuditRow], fmt: str, out: TextIO) -> None:
    """Write the rows to `out` in the format."""
    for chunk in chunks(rows, fmt):
        out.write(chunk)
