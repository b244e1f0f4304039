"""Plain-text rendering for the CLI and the demo: values, aligned tables and key-value lines,
the filing receipt and the notifier view; times and figures read as ntd/formats.py says. Cases
are rendered in render_case.py, the dashboard in render_dashboard.py, audit rows in
render_audit.py."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from domain.filing import FilingReceipt
from domain.notifier import Notifier
from ntd.formats import DASH, when

SPARKS = "▁▂▃▄▅▆▇█"

KEPT_CONTROLS = frozenset("\n\t")
"""Controls a rendered text may hold: its own line breaks and tabs."""


# -- values ----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text safe to write to a terminal: every control character but newline and tab (an
    escape sequence stored in an id, a C1 control, a bidi override) shown as `\\x1b`, `\\u202e`.
    Every text renderer passes its output through it."""
    if text.isprintable() or not any(_unsafe(char) for char in text):
        return text
    return "".join(_visible(char) if _unsafe(char) else char for char in text)


def _unsafe(char: str) -> bool:
    if char in KEPT_CONTROLS:
        return False
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI_CONTROLS


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embeddings, overrides and isolates: they reorder what follows them on the line."""


def plain(value: Any) -> Any:
    """A value as JSON-ready data (pydantic models, dataclasses, enums, times, ids)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def as_dict(row: Any) -> dict[str, Any]:
    """A row (pydantic model, dataclass, named tuple or mapping) as a plain dict."""
    if isinstance(row, Mapping):
        return dict(row)
    if isinstance(row, BaseModel):
        return dict(row)
    if hasattr(row, "_asdict"):
        return dict(row._asdict())
    if hasattr(row, "__dataclass_fields__"):
        return {name: getattr(row, name) for name in row.__dataclass_fields__}
    return dict(vars(row))


def cell(value: Any) -> str:
    """How one value reads in a table cell."""
    if value is None:
        return DASH
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if hasattr(value, "value") and isinstance(value.value, str):
        return escape(str(value.value))
    return escape(str(value))


# -- layout ----------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], indent: int = 0) -> str:
    """Columns aligned to their widest cell; numbers right-aligned."""
    raw = [list(row) for row in rows]
    body = [[cell(v) for v in row] for row in raw]
    numeric = [
        bool(raw) and all(isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in raw)
        for i in range(len(headers))
    ]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]
    pad = " " * indent

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return (pad + "  ".join(parts)).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in body)])


def pairs(items: Iterable[tuple[str, Any]], indent: int = 0) -> str:
    """`key  value` lines with the values aligned."""
    items = [(k, escape(v) if isinstance(v, str) else cell(v)) for k, v in items]
    width = max((len(k) for k, _ in items), default=0)
    pad = " " * indent
    return "\n".join(f"{pad}{k.ljust(width)}  {v}".rstrip() for k, v in items)


def sparkline(values: Sequence[int]) -> str:
    """A row of block characters, one per value, scaled to the largest."""
    top = max(values, default=0)
    if top == 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[min(len(SPARKS) - 1, round(v / top * (len(SPARKS) - 1)))] for v in values)


def counts(mapping: Mapping[str, int]) -> str:
    """`a 3 · b 1`, largest first; a dash when empty."""
    items = sorted(((str(plain(k)), v) for k, v in mapping.items() if v), key=lambda kv: -kv[1])
    return " · ".join(f"{k} {v:,}" for k, v in items) or DASH


# -- receipts and aggregates -------------------------------------------------------------------


def receipt(r: FilingReceipt) -> str:
    """What a notifier sees after filing: the notice and the case holding each listing."""
    new = len(r.new_case_ids)
    head = (
        f"notice {r.notice_id}"
        + (f" (your id {r.client_notice_id})" if r.client_notice_id else "")
        + f" accepted ({r.lane.value} lane): "
        f"{len(r.cases)} listing{'s' if len(r.cases) != 1 else ''}, {new} new "
        f"case{'s' if new != 1 else ''}, {len(r.cases) - new} already open"
    )
    rows = [
        (
            str(c.case_id),
            f"{c.marketplace}/{c.listing_id}",
            "already open" if c.already_open else "new",
            r.lane.value,
        )
        for c in r.cases
    ]
    return escape(head) + "\n" + table(("CASE", "LISTING", "STATUS", "LANE"), rows, indent=2)


def notifier_view(n: Notifier, now: datetime) -> str:
    """A notifier's identity, rights and standing."""
    suspended = (
        f"until {when(n.suspended_until)}"
        if n.is_suspended(now)
        else (f"ended {when(n.suspended_until)}" if n.suspended_until else "no")
    )
    head = pairs(
        [
            ("notifier", str(n.id)),
            ("name", n.name),
            ("kind", n.kind.value),
            ("contact", n.contact_email),
            ("account manager", str(n.account_manager) if n.account_manager else DASH),
            ("version", str(n.version)),
        ]
    )
    rights = (
        table(
            ("RIGHT", "TYPE", "NUMBER", "JURISDICTION", "STATUS", "NOTE"),
            [
                (
                    str(r.right_id),
                    r.right_type.value,
                    r.registration_number,
                    r.jurisdiction,
                    r.status.value,
                    r.rejection_reason or "",
                )
                for r in n.rights.values()
            ],
            indent=2,
        )
        if n.rights
        else "  (none registered)"
    )
    standing = pairs(
        [
            ("trusted lane", "yes" if n.in_trusted_lane else "no"),
            ("may re-apply on", n.may_reapply_on.isoformat() if n.may_reapply_on else DASH),
            ("misuse warnings", str(n.warnings)),
            ("suspended", suspended),
        ],
        indent=2,
    )
    view = f"{head}\n\nrights\n{rights}\n\nstanding\n{standing}"
    if len(n.managers) > 1:
        rows = [(str(t.manager), when(t.assigned_at), str(t.assigned_by)) for t in n.managers]
        view += "\n\naccount managers\n" + table(("MANAGER", "SINCE", "ASSIGNED BY"), rows, 2)
    return escape(view)
