"""An auditor: the trail searched with the filters of `ntd audit query`, downloaded, verified."""

from __future__ import annotations

from itertools import islice
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from domain.values import Actor
from ntd import reads
from ntd.audit_export import EVENT_TYPES, MEDIA_TYPES
from ntd.web import forms
from ntd.web.exports import audit_chunks
from ntd.web.forms import FormInvalid
from ntd.web.pages.common import CurrentUser, User, notifiers, router, rule
from ntd.web.runtime import portal
from ntd.web.templating import render, with_query
from projections.models import AuditQuery, AuditRow

AUDIT_FILTERS = ("case", "notice", "brand", "seller", "actor", "type", "since", "until")
AUDIT_SHOWN = 200
"""Rows shown on the page; the export has them all."""


def _audit_query(request: Request) -> tuple[AuditQuery, dict[str, str], FormInvalid]:
    """The trail's filters (those of `ntd audit query`) from the query string."""
    bad = FormInvalid()
    values = {k: request.query_params.get(k, "").strip() for k in AUDIT_FILTERS}
    actor = values["actor"]
    if actor:
        try:
            actor = str(Actor.parse(actor))
        except ValueError:
            bad.add("actor", f"{actor!r} is not an actor: expected KIND:ID, e.g. agent:alice")
    if values["type"] and values["type"] not in EVENT_TYPES:
        bad.add("type", f"no event is of type {values['type']!r}")
    data = {
        "case_id": forms.optional_uuid(values["case"], "case", bad),
        "notice_id": forms.optional_uuid(values["notice"], "notice", bad),
        "notifier_id": forms.optional_uuid(values["brand"], "brand", bad),
        "seller_id": values["seller"] or None,
        "actor": actor or None,
        "event_type": values["type"] or None,
        "since": forms.optional_time(values["since"], "since", bad),
        "until": forms.optional_time(values["until"], "until", bad),
    }
    if bad.errors:
        return AuditQuery(), values, bad
    return AuditQuery(**data), values, bad


def _audit_page(
    request: Request, user: User, verification: Any = None, status_code: int = 200
) -> Response:
    here = portal(request)
    query, values, bad = _audit_query(request)
    searched = any(values.values()) and not bad.errors
    rows: list[AuditRow] = []
    more = False
    with here.ntd() as ntd:
        ntd.app.may_read("read_audit", user.actor)
        known = notifiers(here, ntd, user)
        if searched:
            stream = reads.audit_rows(ntd, user.actor, query, here.caught_up)
            try:
                rows = list(islice(stream, AUDIT_SHOWN + 1))
            finally:
                reads.close(stream)
            more = len(rows) > AUDIT_SHOWN
    kept = {k: v for k, v in values.items() if v}
    context = {
        "title": "Audit trail",
        "values": values,
        "errors": bad.errors,
        "notifiers": [(str(i), name) for i, name in known],
        "types": [(t, t.replace("_", " ")) for t in EVENT_TYPES],
        "rows": rows[:AUDIT_SHOWN],
        "more": more,
        "searched": searched,
        "verification": verification,
        "export_csv": with_query("/audit/export", {**kept, "format": "csv"}),
        "export_jsonl": with_query("/audit/export", {**kept, "format": "jsonl"}),
    }
    status = 422 if bad.errors else status_code
    return render(request, "audit.html", context, status_code=status)


@router.get("/audit", openapi_extra=rule("read_audit"))
def audit(request: Request, user: CurrentUser) -> Response:
    """Search the trail with the filters of `ntd audit query`; the first rows are shown."""
    return _audit_page(request, user)


@router.get("/audit/verify", openapi_extra=rule("read_audit"))
def audit_verify(request: Request, user: CurrentUser) -> Response:
    """Walk every hash chain (a read: a GET, so an auditor's page posts nothing)."""
    here = portal(request)
    with here.ntd() as ntd:
        result = reads.audit_verify(ntd, user.actor, here.caught_up)
    return _audit_page(request, user, verification=result)


EXPORTS = ("csv", "jsonl")
"""The download's formats (the API's own), each also the file's suffix."""


@router.get("/audit/export", openapi_extra=rule("read_audit"))
def audit_export(request: Request, user: CurrentUser) -> Response:
    """Every matching row as a download, streamed (the API's own formats)."""
    fmt = request.query_params.get("format", "csv")
    if fmt not in EXPORTS:
        raise reads.FilterRequired(f"format: {fmt!r} is not one of csv, jsonl")
    query, _, bad = _audit_query(request)
    if bad.errors:
        raise reads.FilterRequired(str(bad))
    here = portal(request)
    with here.ntd() as ntd:
        ntd.app.may_read("read_audit", user.actor)  # refused before the download starts
    headers = {"Content-Disposition": f'attachment; filename="ntd-audit.{fmt}"'}
    return StreamingResponse(
        audit_chunks(here, user.actor, query, None, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers=headers,
    )
