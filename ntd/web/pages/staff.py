"""The platform's staff: the work queue (the decision forms are on each case's page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from domain.case import Lane
from domain.lifecycle import Deadline, State
from ntd import reads
from ntd.web import forms
from ntd.web.forms import FormInvalid
from ntd.web.pages.common import (
    DEADLINE_CHOICES,
    LANE_CHOICES,
    STATE_CHOICES,
    CurrentUser,
    notifiers,
    now_of,
    router,
    rule,
    status,
)
from ntd.web.runtime import portal
from ntd.web.templating import render
from projections.models import CaseLine
from projections.queues import due_of

SHOWN = 100
"""Lines the queue shows; one more is read to say that more match."""


@router.get("/queue", openapi_extra=rule("read_cases"))
def queue(request: Request, user: CurrentUser) -> Response:
    """The work queue (see projections/queues.py for its order), filtered."""
    here = portal(request)
    bad = FormInvalid()
    query = request.query_params
    values = {k: query.get(k, "").strip() for k in ("notifier", "lane", "state", "deadline")}
    notifier_id = forms.optional_uuid(values["notifier"], "notifier", bad)
    chosen = {
        "lane": _choice(values["lane"], Lane, "lane", bad),
        "states": (s,) if (s := _choice(values["state"], State, "state", bad)) else (),
        "deadline": _choice(values["deadline"], Deadline, "deadline", bad),
    }
    filters = reads.QueueFilters(notifier_id=notifier_id, limit=SHOWN + 1, **chosen)
    with here.ntd() as ntd:
        lines = reads.queue_lines(ntd, user.actor, filters, here.caught_up)
        known = notifiers(here, ntd, user)
        now = now_of(ntd)
    kind = chosen["deadline"]
    context = {
        "title": "Work queue",
        "lines": lines[:SHOWN],
        "more": len(lines) > SHOWN,
        "notifiers": [(str(i), name) for i, name in known],
        "lanes": LANE_CHOICES,
        "states": STATE_CHOICES,
        "deadlines": DEADLINE_CHOICES,
        "values": values,
        "errors": bad.errors,
        "me": str(user.actor.principal),
        "now": now,
        "due_of": lambda line: _due(line, kind),
    }
    return render(request, "queue.html", context, status_code=status(bad))


def _choice(value: str, kind: Any, name: str, bad: FormInvalid) -> Any:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        bad.add(name, f"{value!r} is not one of {', '.join(k.value for k in kind)}")
        return None


def _due(line: CaseLine, kind: Deadline | None) -> tuple[Deadline, datetime] | None:
    """The deadline a queue line is ordered by, and when it is due."""
    due = due_of(line.deadlines, kind)
    if due is None:
        return None
    return (kind or line.next_deadline or Deadline.REVIEW), due
