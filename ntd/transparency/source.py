"""Where the transparency exports read from: the audit trail, every published event in the
order it was stored, after the viewer's permission is checked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from domain.values import Actor
from ntd.bootstrap import Ntd
from projections.models import AuditQuery, AuditRow

READ = "read_transparency"
"""The permission row the exports are read under: auditors and admins, never a party (a
`read_transparency` row of its own is requested of the permission table's owner)."""

CatchUp = Callable[[Ntd], Ntd]


def rows(ntd: Ntd, actor: Actor, caught_up: CatchUp) -> Iterator[AuditRow]:
    """Every audit row, oldest first, streamed; refused before anything is read unless the
    actor may read every party's events. Close the iterator when stopping early."""
    ntd.app.may_read(READ, actor)
    return caught_up(ntd).read_store.audit_query(AuditQuery())


def payload(row: AuditRow) -> dict[str, Any]:
    """The event's fields as the trail stored them."""
    data = json.loads(row.payload)
    return data if isinstance(data, dict) else {}


def reasons(row: AuditRow) -> dict[str, Any] | None:
    """The statement of reasons the event recorded, if any."""
    if row.reasons is None:
        return None
    data = json.loads(row.reasons)
    return data if isinstance(data, dict) else None


def day(moment: datetime | str) -> date:
    """The UTC calendar day of a moment (a stored time or its ISO text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()


def within(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    """since ≤ moment < until, each bound only when given (as `ntd audit query` reads them)."""
    if since is not None and moment < since:
        return False
    return until is None or moment < until
