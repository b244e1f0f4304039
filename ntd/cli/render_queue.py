"""Case lists, the work queue and a notifier's needs-your-action list as a table, JSON or CSV
(`ntd case list`, `ntd queue`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import click

from domain.case import Deadline
from ntd.cli.render import cell, plain, table
from ntd.formats import DASH, csv_cell, relative, when
from projections.models import ActionItem, CaseLine, NeedsAction
from projections.queues import due_of, seller_next

FORMATS = ("table", "json", "csv")
Rows = list[dict[str, Any]]

ACTION_LABELS = {
    NeedsAction.CLARIFICATION: "answer the clarification request",
    NeedsAction.IDENTIFICATION: "say whether the goods are genuine",
    NeedsAction.COUNTER_NOTICE: "counter-notice forwarded: report litigation or it is restored",
    NeedsAction.MESSAGES: "read the new messages",
}


def _due(now: datetime) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        return DASH if value is None else f"{when(value)} ({relative(value, now)})"

    return show


def case_rows(lines: Sequence[CaseLine], now: datetime, seller: bool) -> tuple[Formats, Rows]:
    """A case list's rows: for a seller, what it may still do and by when (NEXT, BY)."""
    if seller:
        rows = []
        for line in lines:
            step = seller_next(line, now)
            rows.append(
                {
                    "case_id": line.case_id,
                    "filed_at": line.filed_at,
                    "listing": f"{line.marketplace}/{line.listing_id}",
                    "state": line.state,
                    "next": step[0] if step else None,
                    "by": step[1] if step else None,
                }
            )
        return Formats({"by": _due(now)}), rows
    rows = [
        {
            "case_id": line.case_id,
            "filed_at": line.filed_at,
            "notifier": line.notifier_name or str(line.notifier_id),
            "listing": f"{line.marketplace}/{line.listing_id}",
            "seller_id": line.seller_id,
            "state": line.state,
            "lane": line.lane,
            "deadline": line.next_deadline,
            "due_at": line.next_due_at,
            "identification": line.identification_verdict,
            "unread": line.unread,
        }
        for line in lines
    ]
    return Formats({"due_at": _due(now)}), rows


def queue_rows(
    lines: Sequence[CaseLine], now: datetime, viewer: str, kind: Deadline | None
) -> tuple[Formats, Rows]:
    """The work queue's rows, in its order; MANAGER says `you` for your notifiers."""
    rows = []
    for rank, line in enumerate(lines, 1):
        due = due_of(line.deadlines, kind)
        deadline = kind if kind is not None else line.next_deadline
        rows.append(
            {
                "rank": rank,
                "case_id": line.case_id,
                "notifier": line.notifier_name or str(line.notifier_id),
                "manager": "you" if line.account_manager == viewer else line.account_manager,
                "listing": f"{line.marketplace}/{line.listing_id}",
                "state": line.state,
                "lane": line.lane,
                "deadline": deadline if due is not None else None,
                "due_at": due,
                "identification": line.identification_verdict,
                "unread": line.unread,
            }
        )
    return Formats({"due_at": _due(now)}, {"rank": "#"}), rows


def action_rows(items: Sequence[ActionItem], now: datetime) -> tuple[Formats, Rows]:
    """A notifier's needs-your-action rows, the soonest due first."""
    rows = [
        {
            "action": item.action,
            "what": ACTION_LABELS[item.action],
            "due": item.due,
            "case_id": item.case_id,
            "listing": f"{item.marketplace}/{item.listing_id}",
            "state": item.state,
            "unread": item.unread,
        }
        for item in items
    ]
    return Formats({"due": _due(now)}), rows


class Formats:
    """How some columns read in a table (the rest: `render.cell`), and their headers."""

    def __init__(
        self,
        shown: Mapping[str, Callable[[Any], str]],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.shown = shown
        self.headers = headers or {}

    def header(self, key: str) -> str:
        return self.headers.get(key, key.upper().replace("_", " "))

    def show(self, key: str, value: Any) -> Any:
        if key in self.shown:
            return self.shown[key](value)
        return value if isinstance(value, int) and not isinstance(value, bool) else cell(value)


def emit(fmt: str, formats: Formats, rows: Rows, more: bool, limit: int, empty: str) -> None:
    """Print the rows in the format asked for; a note on stderr when more were left out."""
    if fmt == "json":
        click.echo(json.dumps([plain(row) for row in rows], indent=2, ensure_ascii=False))
    elif fmt == "csv":
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: csv_cell(plain(v)) for k, v in row.items()})
        click.echo(out.getvalue(), nl=False)
    elif not rows:
        click.echo(empty)
    else:
        keys = list(rows[0])
        click.echo(
            table(
                [formats.header(k) for k in keys],
                [[formats.show(k, row[k]) for k in keys] for row in rows],
            )
        )
    if more:
        click.echo(
            f"(the first {limit}; more match: raise --limit or narrow the filters)", err=True
        )
