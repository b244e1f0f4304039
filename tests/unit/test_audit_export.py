"""The audit export's formats: what a spreadsheet opening the CSV would run, and what not."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from ntd.audit_export import chunks
from projections.models import AuditRow

pytestmark = pytest.mark.fast


def _row(seller_id: str) -> AuditRow:
    return AuditRow(
        seq=1,
        event_id="e-1",
        aggregate_type="Case",
        aggregate_id=uuid4(),
        version=1,
        notice_id=None,
        notifier_id=None,
        seller_id=seller_id,
        actor="agent:alice",
        event_type="Case.Opened",
        occurred_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        payload="{}",
        reasons=None,
        prev_hash="0" * 64,
        hash="1" * 64,
    )


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "'=1", "'"]
)
def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text(text: str) -> None:
    rows = list(csv.DictReader(io.StringIO("".join(chunks([_row(text)], "csv")))))

    assert rows[0]["seller_id"] == "'" + text
    assert rows[0]["actor"] == "agent:alice"  # ordinary cells are untouched


def test_json_lines_keep_a_formula_like_value_exactly() -> None:
    line = "".join(chunks([_row("=1+1")], "jsonl"))

    assert json.loads(line)["seller_id"] == "=1+1"
